"""Answers /start, /help, unknown commands, non-text messages, and handler errors."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ContentType
from aiogram.filters import Command, CommandStart
from aiogram.types import ErrorEvent, Message

from bot.config import Settings
from bot.runtime.polling import STORE_UNAVAILABLE
from bot.runtime.telegram_retry import TELEGRAM_FAULTS, TELEGRAM_UNREACHABLE, TRANSIENT_FAULTS
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.articles import ArticleService
from knowledge_base.storage.faults import StoreUnavailable

log = logging.getLogger(__name__)

# What a person can send instead of text; service messages (someone joined, a pin…) are not.
NON_TEXT_CONTENT = {
    ContentType.ANIMATION,
    ContentType.AUDIO,
    ContentType.CONTACT,
    ContentType.DICE,
    ContentType.DOCUMENT,
    ContentType.GAME,
    ContentType.LOCATION,
    ContentType.PHOTO,
    ContentType.POLL,
    ContentType.STICKER,
    ContentType.STORY,
    ContentType.VENUE,
    ContentType.VIDEO,
    ContentType.VIDEO_NOTE,
    ContentType.VOICE,
}


async def start(message: Message, articles: ArticleService) -> None:
    """Greets and says what the bot knows and how to ask."""
    await message.answer(texts.greeting(await articles.count(), await articles.categories()))


async def help_(message: Message, settings: Settings) -> None:
    """Explains how to ask and what the buttons mean; an admin also gets the admin commands."""
    admin = message.from_user is not None and message.from_user.id in settings.admin_ids
    await message.answer(texts.HELP + (admin_texts.HELP if admin else ""))


def is_command(message: Message) -> bool:
    """A bot command (Telegram marks it with an entity), not just text that starts with "/"."""
    entity = message.entities[0] if message.entities else None
    return entity is not None and entity.type == "bot_command" and entity.offset == 0


async def unknown_command(message: Message) -> None:
    """Answers a command the bot does not have, instead of searching for it."""
    await message.answer(texts.UNKNOWN_COMMAND)


async def not_text(message: Message) -> None:
    """Answers stickers, photos, voice and the like: only text questions are understood."""
    await message.answer(texts.TEXT_ONLY)


async def on_error(event: ErrorEvent) -> bool | str:
    """Logs a failed update and tells the person, so nobody is left without an answer.

    When Telegram itself failed (after the retries: 429, 5xx, no connection, a blocked chat),
    the search did not: the question and the click are stored already, and a message about a
    failed search would be false (and would most likely fail the same way), so that is logged
    in one line and nothing is sent; if the fault may pass, the polling loop is told to handle
    the update again later. The same for a database that kept refusing the update's write
    (locked, disk full): nothing was stored, so the update is handled again later.
    """
    update = event.update
    if isinstance(event.exception, TELEGRAM_FAULTS):
        log.warning(
            "update %s: Telegram failed: %s: %s",
            update.update_id,
            type(event.exception).__name__,
            event.exception,
        )
        if isinstance(event.exception, TRANSIENT_FAULTS):
            return TELEGRAM_UNREACHABLE
        return True
    if isinstance(event.exception, StoreUnavailable):
        # Nothing of it was stored, and nothing is lost: the journal hands it over again.
        log.warning("update %s: %s; it is handled again later", update.update_id, event.exception)
        return STORE_UNAVAILABLE
    log.exception("update %s failed", update.update_id, exc_info=event.exception)
    try:
        if update.message is not None:
            await update.message.answer(texts.SEARCH_FAILED)
        elif update.callback_query is not None:
            await update.callback_query.answer(texts.SEARCH_FAILED, show_alert=True)
    except Exception:  # Telegram itself may be the failure; the log already has it
        log.exception("could not report the failure of update %s", update.update_id)
    return True


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher for life."""
    router = Router(name="common")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(unknown_command, is_command)
    router.message.register(not_text, ~F.text, F.content_type.in_(NON_TEXT_CONTENT))
    return router
