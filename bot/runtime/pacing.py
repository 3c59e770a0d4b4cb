"""A few messages on their way to people at a time, so a crash repeats only a few of them."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response

# Calls that put a new message in a chat: sent again, they show twice. (An edit sent again
# changes nothing; getUpdates and the rest are no message.)
_SENDS = (SendMessage, SendPhoto, SendDocument)


class PaceSends(BaseRequestMiddleware):
    """At most `limit` messages between the bot and Telegram at once.

    A reply reaches the person when Telegram takes it; the journal notes its update as handled
    only when Telegram's answer comes back. A kill -9 in between sends that reply again at the
    next start. Questions are answered in groups (one commit for all that arrived together), so
    without a limit a whole group of replies, dozens, could be in that window at once. Telegram
    takes about 30 messages a second from a bot, so a few in flight cost no throughput there.
    """

    def __init__(self, limit: int) -> None:
        self._room = asyncio.Semaphore(limit)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if not isinstance(method, _SENDS):
            return await make_request(bot, method)
        async with self._room:
            return await make_request(bot, method)
