"""The README's MAX_SENDS_IN_FLIGHT (1): with the Bot API client `faqbot run` builds from the
default settings, one message at a time is on its way to Telegram, so a kill -9 can repeat at
most one reply. A Telegram slow to take the first message holds the second until it answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import create_bot
from tests.fakes.settings import make_settings
from tests.fakes.telegram import Fault, TelegramStub
from tests.fakes.waiting import wait_until

FIRST, SECOND = 41, 42


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    async with TelegramStub() as running:
        running.open_chat(FIRST)
        running.open_chat(SECOND)
        yield running


# The default, and two in flight for contrast: what the test would see if the default were 2.
@pytest.mark.parametrize(("in_flight", "answered"), [(None, [FIRST, SECOND]), (2, [SECOND, FIRST])])
async def test_a_second_message_waits_while_the_first_is_on_its_way(
    stub: TelegramStub, tmp_path: Path, in_flight: int | None, answered: list[int]
) -> None:
    settings = make_settings(tmp_path, bot_token=stub.token, telegram_api_url=stub.base_url)
    if in_flight is not None:
        settings = settings.model_copy(update={"max_sends_in_flight": in_flight})
    bot = create_bot(settings)
    try:
        # Telegram takes half a second to answer the first message (a slow front end).
        stub.fail_next("sendMessage", Fault("slow", 0.5), chat_id=FIRST)
        first = asyncio.create_task(bot.send_message(FIRST, "первому"))
        await wait_until(lambda: len(stub.faults_injected) == 1, 10, "the first on its way")
        await asyncio.gather(first, bot.send_message(SECOND, "второму"))
    finally:
        await bot.session.close()
    # In the order Telegram answered them: with one in flight the second went out only after
    # the first was answered; with two it overtook the slow one.
    assert [int(call.params["chat_id"]) for call in stub.calls_of("sendMessage")] == answered
