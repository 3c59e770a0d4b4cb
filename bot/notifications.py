"""What the bot sends unasked: alerts to admins, answers found later, screens replaced in place."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import nullcontext

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, Message

from bot import keyboards
from bot.runtime.journal import the_reply
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


async def send_unasked(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Send one message nobody asked for (a digest); False, logged, if Telegram refused it
    even after the retries, so the caller can go on with the next person."""
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except TELEGRAM_ERRORS as error:
        log.warning("%d was not sent an unasked message: %s", chat_id, error)
        return False
    return True


async def tell_askers(bot: Bot, people: Iterable[tuple[int, int, str]], article: Article) -> int:
    """Send each person (user, query, question) the article their question now has, with
    👍/👎 for that question; returns how many got it."""
    reached = 0
    for user_id, query_id, question in people:
        try:
            await bot.send_message(user_id, admin_texts.answer_found(question))
            await send_article(bot, user_id, article, keyboards.rating(query_id, article.id))
            reached += 1
        except TELEGRAM_ERRORS as error:
            log.warning("could not tell %s the answer was found: %s", user_id, error)
    return reached


async def send_article(
    bot: Bot,
    chat_id: int,
    article: Article,
    markup: InlineKeyboardMarkup,
    *,
    as_reply: bool = False,
) -> Message:
    """Send an article whole, in as many messages as it takes, with `markup` (👍/👎) under
    the last one, which is returned: the one a press edits.

    `as_reply`: the article is the answer to the update being handled (see
    bot/runtime/journal.py, `the_reply`). Only its last message is sent as the reply, so the
    update is noted as handled once the whole article is delivered: a crash between two of
    its messages sends the article again at the next start (the first part twice, never a
    part lost or buttons missing), and a crash after the last one sends nothing again."""
    *leading, last = user_texts.article_parts(article.title, article.body, article.body_html)
    for part in leading:
        await bot.send_message(chat_id, part)
    with the_reply() if as_reply else nullcontext():
        return await bot.send_message(chat_id, last, reply_markup=markup)


async def edit_in_place(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace a screen. A double tap sends the second press with the message as it was, and
    Telegram refuses an edit that changes nothing: that is no error."""
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "message is not modified" not in str(error):
            raise
