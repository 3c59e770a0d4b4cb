"""Messages to people are sent from a thread of their own, and a reply is noted the instant
Telegram confirms it.

Between Telegram taking a reply and the journal noting its update as handled, a kill -9
sends that reply again at the next start. On the bot's own event loop that instant waited
for whatever ran there (ranking a group of questions, writing their log): a median of 2 ms,
but 10-30 ms at the 90th-99th percentile under a burst, and with a few replies in flight a
kill repeated one or two of them. The sender's loop in its own thread has nothing else to
do: when Telegram's answer arrives it waits only for the interpreter's lock, which the
bot's loop must hand over within `SWITCH_SECONDS`, then parses it and notes the update.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.runtime.journal import pending_reply_note

# Calls that put a new message in a chat: sent again, they show twice. (An edit sent again
# changes nothing; getUpdates and the rest are no message.)
SENDS = (SendMessage, SendPhoto, SendDocument)

# How long a thread may hold the interpreter while another waits for it (Python's default is
# 5 ms). Set for `faqbot run`: the sender is one of those waiting.
SWITCH_SECONDS = 0.001


def prefer_waiting_threads() -> None:
    sys.setswitchinterval(SWITCH_SECONDS)


class _SenderThread:
    """An event loop in a daemon thread, and the HTTP session that lives on it."""

    def __init__(self, session: AiohttpSession) -> None:
        self._session = session
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="faqbot-sender", daemon=True
        )
        self._thread.start()

    async def send(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None,
        note: Callable[[], None] | None,
    ) -> TelegramType:
        done = asyncio.run_coroutine_threadsafe(self._send(bot, method, timeout, note), self._loop)
        # Cancelling the caller cancels the send on the sender's loop too.
        return await asyncio.wrap_future(done)

    async def _send(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None,
        note: Callable[[], None] | None,
    ) -> TelegramType:
        result = await self._session.make_request(bot, method, timeout)
        if note is not None:
            note()
        return result

    async def close(self) -> None:
        if not self._thread.is_alive():
            return
        closing = asyncio.run_coroutine_threadsafe(self._session.close(), self._loop)
        await asyncio.wrap_future(closing)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)
        self._loop.close()


class ThreadedSendSession(AiohttpSession):
    """aiogram's session, whose sends of messages go through the sender thread. The request
    middlewares (retries, pacing) still run on the bot's loop around each call; only the HTTP
    exchange, and the note of a reply, move."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # aiogram builds the type of a method's answer on its first call: a few milliseconds,
        # which on a first reply would fall between Telegram taking it and its note.
        for send in SENDS:
            Response[send.__returning__]  # type: ignore[name-defined]
        # A session of its own: an aiohttp session belongs to the loop it was made on.
        self._sender_session = AiohttpSession(**kwargs)
        self._sender: _SenderThread | None = None

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,
    ) -> TelegramType:
        puts_a_message = isinstance(method, SENDS)  # (not narrowing `method`'s type)
        if not puts_a_message:
            return await super().make_request(bot, method, timeout)
        if self._sender is None:
            self._sender = _SenderThread(self._sender_session)
        return await self._sender.send(bot, method, timeout, pending_reply_note())

    async def close(self) -> None:
        await super().close()
        if self._sender is not None:
            await self._sender.close()
            self._sender = None
