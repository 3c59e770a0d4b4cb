"""A few messages on their way to people at a time, so a crash repeats only a few of them."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response

from bot.runtime.sending import SENDS


class PaceSends(BaseRequestMiddleware):
    """At most `limit` messages between the bot and Telegram at once.

    A reply reaches the person when Telegram takes it; the journal notes its update as handled
    only when Telegram's answer comes back (bot/runtime/sending.py). A kill -9 in between sends
    that reply again at the next start. Questions are answered in groups (one commit for all
    that arrived together), so without a limit a whole group of replies, dozens, could be in
    that window at once. One at a time carries 10-20 replies a second at Telegram's usual
    50-100 ms a call (Telegram takes about 30 a second from a bot).
    """

    def __init__(self, limit: int) -> None:
        self._room = asyncio.Semaphore(limit)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if not isinstance(method, SENDS):
            return await make_request(bot, method)
        async with self._room:
            return await make_request(bot, method)
