"""What the bot sends unasked: alerts to admins, answers found later, screens replaced in place."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, Message

from bot import keyboards
from bot.runtime.telegram_retry import TELEGRAM_ERRORS
from bot.texts import admin as admin_texts
from bot.texts import user as user_texts
from knowledge_base.types import Article

log = logging.getLogger(__name__)


async def notify_admins(
    bot: Bot, admin_ids: Iterable[int], text: str, *, author: int | None
) -> int:
    """Send `text` to every admin but the author of the question; returns how many got it."""
    delivered = 0
    for admin_id in sorted(admin_ids):
        if admin_id == author:
            continue
        try:
            await bot.send_message(admin_id, text)
            delivered += 1
        except TELEGRAM_ERRORS as error:
            # Telegram lets a bot write only to people who started it and did not block it;
            # and a fault that outlived the retries on one admin must not skip the others.
            log.warning("admin %d was not notified: %s", admin_id, error)
    return delivered


async def tell_askers(bot: Bot, people: Iterable[tuple[int, int, str]], article: Article) -> int:
    """Send each person (user, query, question) the article their question now has, with
    👍/👎 for that question; returns how many got it."""
    reached = 0
    for user_id, query_id, question in people:
        try:
            await bot.send_message(user_id, admin_texts.answer_found(question))
            await bot.send_message(
                user_id,
                user_texts.article(article.title, article.body, article.body_html),
                reply_markup=keyboards.rating(query_id, article.id),
            )
            reached += 1
        except TELEGRAM_ERRORS as error:
            log.warning("could not tell %s the answer was found: %s", user_id, error)
    return reached


async def edit_in_place(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace a screen. A double tap sends the second press with the message as it was, and
    Telegram refuses an edit that changes nothing: that is no error."""
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "message is not modified" not in str(error):
            raise
