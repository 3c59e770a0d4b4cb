"""Retries Bot API calls that failed for a passing reason: 429, 5xx, a dropped connection."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

# Pauses before the second, third… attempt of a call that failed with 5xx or no connection.
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)
# Telegram's retry_after is obeyed up to this; a longer one fails the call.
MAX_RETRY_AFTER = 60.0
# No call is retried once this long has passed since its first attempt.
RETRY_DEADLINE = 60.0

# What a Bot API call raises when Telegram, not the bot, failed: after the retries a handler
# logs these in one line instead of treating them as its own bug.
TELEGRAM_FAULTS: tuple[type[Exception], ...] = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    TelegramForbiddenError,
    ClientDecodeError,
)
# Faults that pass: an update whose reply met one of these (after the retries) is handled
# again later. A blocked chat (403) is final.
TRANSIENT_FAULTS: tuple[type[Exception], ...] = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    ClientDecodeError,
)
# What the error handler returns for such an update, for the polling loop to retry it.
TELEGRAM_UNREACHABLE = "telegram-unreachable"
# Everything a Bot API call can raise, for steps whose failure must not skip the next ones.
TELEGRAM_ERRORS: tuple[type[Exception], ...] = (TelegramAPIError, ClientDecodeError)


class RetryTransientErrors(BaseRequestMiddleware):
    """Telegram asks a bot to retry after a 429, and its front ends answer 5xx or drop the
    connection now and then; one such fault must not lose a reply. Other errors (400, 403)
    are final and pass through at once. getUpdates is left to aiogram's polling loop, which
    has a back-off of its own.

    A 429 holds its whole chat, not only the call that met it: until its retry_after has
    passed, every call to that chat waits (Telegram would refuse it, and count it against the
    bot)."""

    def __init__(
        self,
        backoff: Sequence[float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._backoff = tuple(BACKOFF_SECONDS if backoff is None else backoff)
        # The time the deadline and the holds are measured in, and how a pause is waited out
        # (a test passes a fake clock to watch the 60 s deadline without waiting a minute).
        self._clock = clock
        self._sleep = sleep
        # Chats Telegram told to wait: chat id -> clock time when the wait ends.
        self._held_until: dict[str, float] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        waits = iter(self._backoff)
        deadline = self._clock() + RETRY_DEADLINE
        chat = getattr(method, "chat_id", None)
        chat = None if chat is None else str(chat)
        while True:
            await self._wait_for_chat(chat)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                self._hold(chat, error.retry_after)
                # Bounded like the rest: one more attempt per step of the back-off.
                if error.retry_after > MAX_RETRY_AFTER or next(waits, None) is None:
                    raise
                pause = float(error.retry_after)
                reason = f"429, retry after {error.retry_after} s"
            except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as error:
                # A body that is JSON but not what was expected came with a delivered call:
                # sending it again would send twice. Only a non-JSON body (a proxy's error
                # page) says the call did not get through.
                step = next(waits, None)
                if step is None or (
                    isinstance(error, ClientDecodeError) and not isinstance(error.data, str)
                ):
                    raise
                pause, reason = step, type(error).__name__
            if self._clock() + pause > deadline:
                raise TelegramNetworkError(method, f"still failing after {RETRY_DEADLINE:g} s")
            log.warning("%s failed (%s); retrying in %.1f s", type(method).__name__, reason, pause)
            await self._sleep(pause)

    def _hold(self, chat: str | None, seconds: float) -> None:
        if chat is None:
            return
        now = self._clock()
        for done in [c for c, until in self._held_until.items() if until <= now]:
            del self._held_until[done]
        self._held_until[chat] = max(self._held_until.get(chat, 0.0), now + seconds)

    async def _wait_for_chat(self, chat: str | None) -> None:
        if chat is None:
            return
        wait = self._held_until.get(chat, 0.0) - self._clock()
        if wait > 0:
            await self._sleep(wait)  # what Telegram asked for: the behaviour, not a guess
