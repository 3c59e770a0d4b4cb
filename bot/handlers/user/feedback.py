"""Answers button presses: a picked suggestion, 👍/👎, «Нет подходящего», and stale buttons."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup

from bot import keyboards
from bot.config import Settings
from bot.digest import AdminDigest
from bot.handlers import IndexUpdater
from bot.notifications import edit_in_place, send_article
from bot.runtime.telegram_retry import TELEGRAM_ERRORS
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.articles import ArticleService
from knowledge_base.feedback import FeedbackService
from knowledge_base.search.service import SearchService
from knowledge_base.types import FeedbackOutcome, Label, Learning

log = logging.getLogger(__name__)


async def pick_suggestion(
    query: CallbackQuery,
    callback_data: keyboards.Pick,
    feedback: FeedbackService,
    articles: ArticleService,
    settings: Settings,
    index: IndexUpdater,
    bot: Bot,
) -> None:
    """Shows the picked article with 👍/👎 and counts the pick as a positive click."""
    outcome = await feedback.record(
        query_id=callback_data.query_id,
        user_id=query.from_user.id,
        article_id=callback_data.article_id,
        label=Label.HELPFUL,
    )
    if outcome in (FeedbackOutcome.UNKNOWN_QUERY, FeedbackOutcome.UNKNOWN_ARTICLE):
        await answer_callback(query, texts.STALE_BUTTON, show_alert=True)
        return
    # The click is kept even when the article was archived since it was offered.
    article = await articles.get(callback_data.article_id)
    if article is None or article.archived:
        await answer_callback(query, texts.ARTICLE_GONE, show_alert=True)
        return
    # The article first: it is what the person asked for; the acknowledgement only stops the
    # spinner on the button and may fail (a press older than Telegram keeps it).
    if query.message is not None:
        await send_article(
            bot,
            query.message.chat.id,
            article,
            keyboards.rating(callback_data.query_id, article.id),
        )
    await answer_callback(query)
    # Like any other press, the suggestions say what was chosen and lose their buttons.
    await _mark(query, texts.picked_note(article.title))
    if outcome is FeedbackOutcome.RECORDED:
        await learn(feedback, settings, index, callback_data.query_id, article.id)


async def rate_article(
    query: CallbackQuery,
    callback_data: keyboards.Rate,
    *,
    feedback: FeedbackService,
    search: SearchService,
    articles: ArticleService,
    settings: Settings,
    bot: Bot,
    index: IndexUpdater,
    admin_digest: AdminDigest,
) -> None:
    """Stores 👍 or 👎 for the article shown and marks the message as rated; a 👍 teaches the
    question to the article; after a 👎 offers the next-closest articles, if any are close
    enough."""
    label = callback_data.label  # anything but ±1 is forged: the service refuses it
    outcome = await feedback.record(
        query_id=callback_data.query_id,
        user_id=query.from_user.id,
        article_id=callback_data.article_id,
        label=label,
    )
    note = (
        texts.FEEDBACK_HELPFUL_NOTE if label == Label.HELPFUL else texts.FEEDBACK_NOT_HELPFUL_NOTE
    )
    thanks = texts.THANKS_HELPFUL if label == Label.HELPFUL else texts.THANKS_NOT_HELPFUL
    await _acknowledge(query, outcome, thanks, note)
    if outcome is not FeedbackOutcome.RECORDED:
        return
    if label == Label.HELPFUL:
        await learn(feedback, settings, index, callback_data.query_id, callback_data.article_id)
        return
    query_id = callback_data.query_id
    others = await search.other_articles(query_id, exclude=callback_data.article_id)
    if others and query.message is not None:
        await query.message.answer(
            texts.TRY_OTHERS, reply_markup=keyboards.suggestions(query_id, others)
        )
    article = await articles.get(callback_data.article_id)
    question = await feedback.question_of(query_id) or ""
    alert = admin_texts.not_helpful(query_id, question, article.title if article else "")
    await admin_digest.event(bot, alert, author=query.from_user.id)


async def none_fit(
    query: CallbackQuery,
    callback_data: keyboards.NoneFit,
    feedback: FeedbackService,
    bot: Bot,
    admin_digest: AdminDigest,
) -> None:
    """Stores «Нет подходящего» as a negative click on the whole query; on suggestions marked
    already (a pick, or this press before) says so and records nothing."""
    if _marked(query):
        await answer_callback(query, texts.ALREADY_MARKED)
        return
    outcome = await feedback.record(
        query_id=callback_data.query_id,
        user_id=query.from_user.id,
        article_id=None,
        label=Label.NOT_HELPFUL,
    )
    if outcome is FeedbackOutcome.ALREADY_RECORDED:
        await answer_callback(query, texts.ALREADY_MARKED)
        return
    await _acknowledge(query, outcome, texts.THANKS_NONE_FIT, texts.FEEDBACK_NONE_FIT_NOTE)
    if outcome is FeedbackOutcome.RECORDED:
        question = await feedback.question_of(callback_data.query_id) or ""
        alert = admin_texts.none_fit(callback_data.query_id, question)
        await admin_digest.event(bot, alert, author=query.from_user.id)


async def learn(
    feedback: FeedbackService,
    settings: Settings,
    index: IndexUpdater,
    query_id: int,
    article_id: int,
) -> None:
    """A confirmed question becomes the article's phrasing, served from the next question on.
    After the reply, and never failing it: the click is stored already, and a question not
    learned now is learned at its next confirmation (a phrasing stored but not yet served is
    picked up by the periodic refresh)."""
    policy = settings.learning
    try:
        learned = await feedback.learn(
            query_id, article_id, min_confirmations=policy.min_confirmations, auto=policy.auto
        )
        if learned is Learning.LEARNED:
            await index.serve_changes()
    except Exception:
        log.exception("query %d: not learned for article %d", query_id, article_id)


async def unknown_button(query: CallbackQuery) -> None:
    """Answers a button the bot does not know (old version, forged data) without failing."""
    await answer_callback(query, texts.STALE_BUTTON, show_alert=True)


async def answer_callback(
    query: CallbackQuery, text: str | None = None, show_alert: bool = False
) -> None:
    """Acknowledge a press. Telegram refuses it for a press older than it keeps, and it may
    fail past the retries; the click is stored and the reply sent regardless, so a failure
    here is logged in one line and nothing else is skipped."""
    try:
        await query.answer(text, show_alert=show_alert)
    except TELEGRAM_ERRORS as error:
        log.warning("callback %s not acknowledged: %s", query.id, error)


async def _acknowledge(
    query: CallbackQuery, outcome: FeedbackOutcome, thanks: str, note: str
) -> None:
    if outcome is FeedbackOutcome.UNKNOWN_QUERY or outcome is FeedbackOutcome.UNKNOWN_ARTICLE:
        await answer_callback(query, texts.STALE_BUTTON, show_alert=True)
        return
    # ALREADY_RECORDED: a 👍 after picking that suggestion (the pick counted already) is
    # thanked like a new one; the stored pair is the same.
    await answer_callback(query, thanks)
    await _mark(query, note)


async def _mark(query: CallbackQuery, note: str) -> None:
    """Keep the message, drop the buttons, say what was recorded: the chat shows the vote or
    the pick. A press that comes with the message marked already (a second tap that reached
    Telegram after the first one's edit) shows one note, the latest, not one more."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage) or message.html_text is None:
        return
    shown = _without_note(message.html_text) + note
    if shown == message.html_text:
        return
    try:
        await edit_in_place(message, shown, InlineKeyboardMarkup(inline_keyboard=[]))
    except TELEGRAM_ERRORS as error:
        # The press is stored once already; a refusal (a message too old to edit) must not
        # skip what follows it.
        log.warning("pressed message not updated: %s", error)


def _marked(query: CallbackQuery) -> bool:
    """The message carries a note of a press already."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage) or message.html_text is None:
        return False
    return _without_note(message.html_text) != message.html_text


def _without_note(html_text: str) -> str:
    for earlier in _NOTES:
        if html_text.endswith(earlier):
            return html_text[: -len(earlier)]
    picked = _PICKED_NOTE.search(html_text)
    return html_text[: picked.start()] if picked else html_text


_NOTES = (
    texts.FEEDBACK_HELPFUL_NOTE,
    texts.FEEDBACK_NOT_HELPFUL_NOTE,
    texts.FEEDBACK_NONE_FIT_NOTE,
)
# texts.FEEDBACK_PICKED_NOTE with any title, at the very end of the message.
_PICKED_NOTE = re.compile(
    re.escape(texts.FEEDBACK_PICKED_NOTE).replace(re.escape("{title}"), "[^\n]*") + r"\Z"
)


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher for life."""
    router = Router(name="feedback")
    router.callback_query.register(pick_suggestion, keyboards.Pick.filter())
    router.callback_query.register(rate_article, keyboards.Rate.filter())
    router.callback_query.register(none_fit, keyboards.NoneFit.filter())
    router.callback_query.register(unknown_button)
    return router
