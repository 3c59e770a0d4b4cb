"""The retries of Bot API calls keep Telegram's flood control: a 429 holds its whole chat for its
retry_after, and the stand-in fails the test if any call comes sooner. A 5xx or a proxy's error
page is retried on the back-off, one log line each; an answer that may mean the call got through
is not sent again; getUpdates is left to the polling loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage

from bot.runtime.telegram_retry import RetryTransientErrors
from tests.fakes.clock import FakeClock
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


async def test_get_updates_goes_through_untouched_its_failures_left_to_the_polling_loop(
    stub: TelegramStub, bot: Bot
) -> None:
    update_id = stub.push_text(PERSON, "вопрос")
    stub.fail_next("getUpdates", Fault("server_error"))
    with pytest.raises(TelegramServerError):
        await bot.get_updates(timeout=0)
    [update] = await bot.get_updates(timeout=0)
    assert update.update_id == update_id
    assert len(stub.calls_of("getUpdates")) == 2, "the failure was not retried"


async def test_a_429_to_a_call_without_a_chat_holds_that_call_and_no_other(
    stub: TelegramStub, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_next("getMe", Fault("retry_after", 1))
    with caplog.at_level(logging.WARNING, logger="bot.runtime.telegram_retry"):
        me = asyncio.create_task(bot.get_me())
        refused = await stub.wait_for("getMe", lambda call: call.error is not None)
        assert await bot.delete_webhook() is True
        assert (await me).id == stub.bot_user["id"]
    [other] = stub.calls_of("deleteWebhook")
    assert other.time < refused.time + 1.0, "another call without a chat is not held"
    [answered] = [call for call in stub.calls_of("getMe") if call.error is None]
    assert answered.time >= refused.time + 1.0
    assert _retry_lines(caplog) == ["GetMe failed (429, retry after 1 s); retrying in 1.0 s"]


async def test_a_server_error_and_a_proxys_error_page_are_retried_on_the_back_off_one_line_each(
    stub: TelegramStub, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(auto=True)
    client = stub_bot(stub)
    client.session.middleware(RetryTransientErrors((2.0, 3.0), clock=clock, sleep=clock.sleep))
    stub.fail_next("sendMessage", Fault("server_error"))
    stub.fail_next("sendMessage", Fault("bad_gateway"))  # an HTML page: the call never got in
    try:
        with caplog.at_level(logging.WARNING, logger="bot.runtime.telegram_retry"):
            sent = await client.send_message(PERSON, "ответ")
    finally:
        await client.session.close()
    assert sent.text == "ответ"
    assert _sent_to(stub, PERSON) == [stub.calls_of("sendMessage")[-1].time]
    assert clock.slept == [2.0, 3.0], "the back-off given, step by step"
    assert _retry_lines(caplog) == [
        "SendMessage failed (TelegramServerError); retrying in 2.0 s",
        "SendMessage failed (ClientDecodeError); retrying in 3.0 s",
    ]


async def test_an_answer_of_json_out_of_shape_is_not_retried_the_call_got_through() -> None:
    attempts: list[SendMessage] = []

    async def telegram(bot: object, method: SendMessage) -> Any:
        attempts.append(method)
        answer = {"ok": True, "result": {"not": "a message"}}
        raise ClientDecodeError("Failed to deserialize object", ValueError("no"), answer)

    with pytest.raises(ClientDecodeError):
        await RetryTransientErrors((0.0,))(telegram, None, _message())  # type: ignore[arg-type]
    assert len(attempts) == 1, "sending it again could send it twice"


async def test_429s_are_retried_once_per_step_of_the_back_off_then_raised() -> None:
    clock = FakeClock(auto=True)
    attempts: list[float] = []

    async def telegram(bot: object, method: SendMessage) -> Any:
        attempts.append(clock.now)
        raise TelegramRetryAfter(method, "Too Many Requests: retry after 1", retry_after=1)

    retrying = RetryTransientErrors((5.0,), clock=clock, sleep=clock.sleep)
    with pytest.raises(TelegramRetryAfter):
        await retrying(telegram, None, _message())  # type: ignore[arg-type]
    assert attempts == [0.0, 1.0]


async def test_a_call_given_up_at_the_deadline_is_named_in_the_error() -> None:
    clock = FakeClock(auto=True)
    method = _message()

    async def telegram(bot: object, method: SendMessage) -> Any:
        clock.now += 30.0  # each attempt hangs 30 s before the 500
        raise TelegramServerError(method, "Internal Server Error")

    retrying = RetryTransientErrors(clock=clock, sleep=clock.sleep)
    with pytest.raises(TelegramNetworkError, match="still failing after 60 s") as failure:
        await retrying(telegram, None, method)  # type: ignore[arg-type]
    assert failure.value.method is method


async def test_a_shorter_429_does_not_cut_short_a_longer_hold_on_the_same_chat() -> None:
    clock = FakeClock()
    answers: list[asyncio.Future[Any]] = []
    attempts: list[tuple[str, float]] = []
    arrived = asyncio.Event()

    async def telegram(bot: object, method: SendMessage) -> Any:
        attempts.append((method.text, clock.now))
        answers.append(asyncio.get_running_loop().create_future())
        arrived.set()
        return await answers[-1]

    async def next_attempt() -> asyncio.Future[Any]:
        while not [a for a in answers if not a.done()]:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
        return next(a for a in answers if not a.done())

    retrying = RetryTransientErrors(clock=clock, sleep=clock.sleep)
    # Two messages to one chat on their way at once; Telegram answers the first with a 429
    # of 30 s, then the second with one of 5 s.
    first = asyncio.create_task(retrying(telegram, None, _message("первое")))  # type: ignore[arg-type]
    second = asyncio.create_task(retrying(telegram, None, _message("второе")))  # type: ignore[arg-type]
    (await next_attempt()).set_exception(_too_many(30))
    (await next_attempt()).set_exception(_too_many(5))
    await clock.until_sleeping(2)
    clock.advance(5.0)
    await clock.until_sleeping(2)
    assert clock.sleepers == [30.0, 30.0], "the second waits out the first's 30 s too"
    clock.advance(25.0)
    for _ in range(2):
        (await next_attempt()).set_result("delivered")
    assert await asyncio.gather(first, second) == ["delivered", "delivered"]
    assert attempts == [("первое", 0.0), ("второе", 0.0), ("первое", 30.0), ("второе", 30.0)]


def _message(text: str = "ответ") -> SendMessage:
    return SendMessage(chat_id=PERSON, text=text)


def _too_many(seconds: int) -> TelegramRetryAfter:
    return TelegramRetryAfter(_message(), "Too Many Requests", retry_after=seconds)


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.runtime.telegram_retry"]
