"""The retries of Bot API calls keep Telegram's flood control: a 429 holds its whole chat for its
retry_after, and the stand-in fails the test if any call comes sooner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from bot.runtime.telegram_retry import RetryTransientErrors
from tests.fakes.probe_bots import stub_bot
from tests.fakes.telegram import Fault, TelegramStub

PERSON, OTHER = 42, 43


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    # Leaving the block fails the test if the bot called a chat before its retry_after.
    async with TelegramStub() as running:
        running.open_chat(PERSON)
        running.open_chat(OTHER)
        yield running


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    client = stub_bot(stub)
    client.session.middleware(RetryTransientErrors())
    yield client
    await client.session.close()


def _sent_to(stub: TelegramStub, chat: int) -> list[float]:
    return [
        call.time
        for call in stub.calls_of("sendMessage")
        if int(call.params["chat_id"]) == chat and call.error is None
    ]


async def test_a_429_holds_every_message_to_its_chat_and_no_other(
    stub: TelegramStub, bot: Bot
) -> None:
    stub.fail_next("sendMessage", Fault("retry_after", 1), chat_id=PERSON)
    first = asyncio.create_task(bot.send_message(PERSON, "первое"))
    refused = await stub.wait_for("sendMessage", lambda call: call.error is not None)
    # While the first waits out its retry_after: a second message to the same chat, and one
    # to another chat.
    second = asyncio.create_task(bot.send_message(PERSON, "второе"))
    await bot.send_message(OTHER, "другому")
    await asyncio.gather(first, second)
    assert stub.flood_violations == []
    assert _sent_to(stub, OTHER)[0] < refused.time + 1.0, "another chat is not held"
    assert len(_sent_to(stub, PERSON)) == 2
    assert min(_sent_to(stub, PERSON)) >= refused.time + 1.0, "both waited the whole second"


async def test_a_retry_after_over_the_bound_is_not_waited_for(stub: TelegramStub, bot: Bot) -> None:
    stub.fail_next("sendMessage", Fault("retry_after", 61), chat_id=PERSON)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(PERSON, "первое")
    assert _sent_to(stub, PERSON) == []
