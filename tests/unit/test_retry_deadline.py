"""The README's bound on retrying a Bot API call: a 429 after its retry_after, 5xx and dropped
connections with a back-off, all within 60 s of the first attempt. Watched on a fake clock with
the middleware as `faqbot run` builds it (no back-off or deadline of the test's own)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import SendMessage

from bot.runtime.telegram_retry import RetryTransientErrors
from tests.fakes.clock import FakeClock

DONE = "delivered"


class _Telegram:
    """Answers each attempt of the call: notes when it began, lets `takes` seconds of the fake
    clock pass, then fails with what `fail` makes, or succeeds once `fail` returns None."""

    def __init__(self, clock: FakeClock, takes: float, fail: Any) -> None:
        self.clock = clock
        self.takes = takes
        self.fail = fail
        self.attempts: list[float] = []

    async def __call__(self, bot: object, method: SendMessage) -> str:
        self.attempts.append(self.clock.now)
        self.clock.now += self.takes
        error = self.fail(method, len(self.attempts))
        if error is not None:
            raise error
        return DONE


def _retrying(clock: FakeClock) -> RetryTransientErrors:
    return RetryTransientErrors(clock=clock, sleep=clock.sleep)


def _dropped(method: SendMessage, attempt: int) -> Exception:
    return TelegramNetworkError(method, "connection dropped")


async def test_a_call_that_keeps_failing_is_retried_while_an_attempt_can_start_by_60_s() -> None:
    # Each attempt takes 8.875 s before the connection drops; with the back-off between them
    # the sixth attempt starts at 59.875 s: inside the deadline, so it is made.
    clock = FakeClock(auto=True)
    telegram = _Telegram(clock, 8.875, _dropped)
    with pytest.raises(TelegramNetworkError, match="connection dropped"):
        await _retrying(clock)(telegram, None, SendMessage(chat_id=42, text="ответ"))  # type: ignore[arg-type]
    assert telegram.attempts == [0.0, 9.375, 19.25, 30.125, 43.0, 59.875]
    assert max(telegram.attempts) <= 60.0


async def test_a_retry_that_would_start_after_60_s_is_not_made() -> None:
    # Attempts of 9 s: the sixth would start at 60.5 s, past the deadline: given up instead,
    # at once (no pause is waited out for an attempt that will not come).
    clock = FakeClock(auto=True)
    telegram = _Telegram(clock, 9.0, _dropped)
    with pytest.raises(TelegramNetworkError, match="still failing after 60 s"):
        await _retrying(clock)(telegram, None, SendMessage(chat_id=42, text="ответ"))  # type: ignore[arg-type]
    assert telegram.attempts == [0.0, 9.5, 19.5, 30.5, 43.5]
    assert clock.now == 52.5, "gave up when the fifth attempt failed, without waiting"


async def test_429s_are_obeyed_up_to_the_60_s_deadline_and_not_past_it() -> None:
    clock = FakeClock(auto=True)

    def too_many(method: SendMessage, attempt: int) -> Exception:
        return TelegramRetryAfter(method, "Too Many Requests: retry after 30", retry_after=30)

    telegram = _Telegram(clock, 0.0, too_many)
    with pytest.raises(TelegramNetworkError, match="still failing after 60 s"):
        await _retrying(clock)(telegram, None, SendMessage(chat_id=42, text="ответ"))  # type: ignore[arg-type]
    # The attempt at exactly 60 s is made; the one at 90 s is not.
    assert telegram.attempts == [0.0, 30.0, 60.0]
    assert clock.slept == [30.0, 30.0]


@pytest.mark.parametrize(("retry_after", "delivered"), [(60, True), (61, False)])
async def test_a_retry_after_of_60_s_is_waited_out_and_a_longer_one_is_not(
    retry_after: int, delivered: bool
) -> None:
    clock = FakeClock(auto=True)

    def once(method: SendMessage, attempt: int) -> Exception | None:
        if attempt > 1:
            return None
        return TelegramRetryAfter(method, "Too Many Requests", retry_after=retry_after)

    telegram = _Telegram(clock, 0.0, once)
    call = _retrying(clock)(telegram, None, SendMessage(chat_id=42, text="ответ"))  # type: ignore[arg-type]
    if delivered:
        assert await call == DONE
        assert telegram.attempts == [0.0, 60.0]
    else:
        with pytest.raises(TelegramRetryAfter):
            await call
        assert telegram.attempts == [0.0] and clock.slept == []
