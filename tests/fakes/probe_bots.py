"""Tiny aiogram bots that stand in for faqbot where a test is about the Telegram stand-in or the
polling loop, not about faqbot's handlers; and the aiogram client that talks to the stand-in."""

from __future__ import annotations

import asyncio
import html
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from tests.fakes.telegram import TelegramStub

# The text that makes Probe hang.
HANG = "зависни"


def stub_bot(stub: TelegramStub, token: str | None = None) -> Bot:
    """An aiogram Bot that calls the stand-in instead of api.telegram.org."""
    api = TelegramAPIServer.from_base(stub.base_url)
    return Bot(token or stub.token, session=AiohttpSession(api=api))


class SentMethods(BaseRequestMiddleware):
    """Notes the Bot API method of each request an aiogram client sends, as the client sends it
    (before the stand-in has it): `bot.session.middleware(sent)` installs it."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: Any
    ) -> Any:
        self.names.append(method.__api_method__)
        return await make_request(bot, method)


def build_probe_router() -> Router:
    """A fresh router per test: aiogram attaches a router to one dispatcher only."""
    router = Router(name="stub-probe")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        """Answers any text with it, in bold, under a one-button keyboard."""
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Понятно", callback_data="ack")]]
        )
        await message.answer(
            f"Эхо: <b>{html.escape(message.text or '')}</b>",
            parse_mode="HTML",
            reply_markup=keyboard,
        )

    @router.callback_query(F.data == "ack")
    async def acknowledge(callback: CallbackQuery) -> None:
        """Answers a press by marking the message done and dropping its keyboard."""
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(f"{callback.message.text} ✓")
        await callback.answer("Готово")

    @router.message(F.document)
    async def measure(message: Message, bot: Bot) -> None:
        """Answers a document with its size, then sends it back as an upload."""
        assert message.document is not None
        downloaded = await bot.download(message.document)
        assert downloaded is not None
        content = downloaded.read()
        await message.answer(f"{len(content)} байт")
        await message.answer_document(
            BufferedInputFile(content, filename=f"copy-{message.document.file_name}")
        )

    return router


class Probe:
    """A dispatcher that answers «ок» and notes each update it handles; HANG hangs while
    `hang` is set."""

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.hang = True
        router = Router()
        router.message.register(self._answer, F.text)
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(router)

    async def _answer(self, message: Message, event_update: Update) -> None:
        self.handled.append(event_update.update_id)
        if message.text == HANG and self.hang:
            await asyncio.sleep(3600)
        await message.answer("ок")
