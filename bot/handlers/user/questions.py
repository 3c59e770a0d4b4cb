"""Answers a question: the article, suggestions, or a plain "don't know yet"."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import Message

from bot import keyboards
from bot.config import Settings
from bot.digest import AdminDigest
from bot.notifications import send_article
from bot.runtime.journal import the_reply
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.search.questions import clean_question, is_greeting, is_thanks
from knowledge_base.search.service import SearchService
from knowledge_base.types import Band


async def question(
    message: Message,
    search: SearchService,
    settings: Settings,
    bot: Bot,
    admin_digest: AdminDigest,
    message_key: str | None = None,
) -> None:
    """Answers any other text as a question to the knowledge base; a message that is only a
    greeting or a thanks gets a word on how to ask, and goes neither to the log nor to the
    admins."""
    text = clean_question(message.text or "")
    if not text:
        await message.answer(texts.EMPTY_QUESTION)
        return
    greeting = is_greeting(text)
    if greeting or is_thanks(text):
        with the_reply():
            await message.answer(texts.HELLO if greeting else texts.YOU_ARE_WELCOME)
        return
    limit = settings.max_question_chars
    if len(text) > limit:
        text = text[:limit]
        await message.answer(texts.truncated(limit))
    user_id = message.from_user.id if message.from_user else None
    answer = await search.answer(text, user_id=user_id, message_key=message_key)
    assert answer.query_id is not None
    if answer.band is Band.ANSWER and answer.article is not None:
        await send_article(
            bot,
            message.chat.id,
            answer.article,
            keyboards.rating(answer.query_id, answer.article.id),
            as_reply=True,
        )
    elif answer.band is Band.SUGGEST and answer.alternatives:
        with the_reply():
            await message.answer(
                texts.SUGGEST,
                reply_markup=keyboards.suggestions(answer.query_id, answer.alternatives),
            )
    else:
        # The person has their answer; the admins' notice is not worth sending it twice (the
        # question waits in /unanswered either way).
        with the_reply():
            await message.answer(texts.NOTHING_FOUND if answer.article else texts.EMPTY_BASE)
        await admin_digest.event(bot, admin_texts.unanswered(answer.query_id, text), author=user_id)


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher for life."""
    router = Router(name="questions")
    router.message.register(question, F.text)
    return router
