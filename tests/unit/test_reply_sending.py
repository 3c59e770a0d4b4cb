"""Messages to people go out from the sender's thread, and a person's reply is noted there the
instant Telegram confirms it: not later, not for a send that failed, not for other messages."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest

from bot.runtime.journal import noting_replies, the_reply
from bot.runtime.sending import ThreadedSendSession
from tests.fakes.telegram import Fault, TelegramStub

PERSON = 42


class _Notes:
    """What the polling loop's note would do, and where and when it ran."""

    def __init__(self, stub: TelegramStub) -> None:
        self._stub = stub
        self.seen: list[tuple[str, int]] = []

    def __call__(self) -> None:
        # The thread it ran on, and how many messages the stand-in had taken by then.
        self.seen.append((threading.current_thread().name, len(self._stub.calls_of("sendMessage"))))


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    async with TelegramStub() as running:
        running.open_chat(PERSON)
        yield running


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    session = ThreadedSendSession(api=TelegramAPIServer.from_base(stub.base_url))
    client = Bot(stub.token, session=session)
    yield client
    await client.session.close()
    assert not [t for t in threading.enumerate() if t.name == "faqbot-sender"], "thread left"


async def test_the_reply_is_noted_on_the_senders_thread_once_telegram_has_it(
    stub: TelegramStub, bot: Bot
) -> None:
    notes = _Notes(stub)
    with noting_replies(notes):
        # A message before the reply (the notice that a question was cut) notes nothing.
        await bot.send_message(PERSON, "Вопрос обрезан")
        assert notes.seen == []
        with the_reply():
            await bot.send_message(PERSON, "Ответ")
            # Noted before the send returned to this loop: on the sender's thread, with the
            # reply already at Telegram.
            assert notes.seen == [("faqbot-sender", 2)]
    # The block's end notes again (a note may come twice; the journal keeps the first).
    assert notes.seen == [("faqbot-sender", 2), ("MainThread", 2)]


async def test_a_reply_telegram_refused_is_not_noted(stub: TelegramStub, bot: Bot) -> None:
    notes = _Notes(stub)
    stub.fail_next("sendMessage", Fault("bad_request", description="Bad Request: chat not found"))
    with (
        noting_replies(notes),
        pytest.raises(TelegramBadRequest, match="chat not found"),
        the_reply(),
    ):
        await bot.send_message(PERSON, "Ответ")
    assert notes.seen == []


async def test_requests_other_than_messages_stay_on_the_bots_loop(
    stub: TelegramStub, bot: Bot
) -> None:
    me = await bot.get_me()
    assert me.id > 0
    assert not [t for t in threading.enumerate() if t.name == "faqbot-sender"]
    sent = await bot.send_message(PERSON, "Ответ")
    assert sent.chat.id == PERSON
    assert [t for t in threading.enumerate() if t.name == "faqbot-sender"]
