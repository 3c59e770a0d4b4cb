"""The README's limit on what is learned from a click: a question of up to 300 characters may
become a phrasing; a longer one is a story, kept as a click and never learned."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.feedback import FeedbackService
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import ArticleDraft, Band, Label, Learning, QuestionLog

PERSON = 10


async def _asked(session_factory: async_sessionmaker[AsyncSession], text: str) -> tuple[int, int]:
    """A question answered with the one article, the article offered; (query id, article)."""
    async with session_factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("VPN", "Шаги")])
        [article] = await ArticleService(session).all()
        queries = QueryRepository(session)
        [(query_id, _)] = await queries.log_many(
            [QuestionLog(PERSON, text, article.id, 0.95, Band.ANSWER, "m")]
        )
        await queries.add_offers(query_id, [article.id])
        await session.commit()
    return query_id, article.id


@pytest.mark.parametrize(("length", "learned"), [(300, Learning.LEARNED), (301, Learning.NOTHING)])
async def test_a_question_over_300_characters_is_kept_as_a_click_and_never_learned(
    session_factory: async_sessionmaker[AsyncSession], length: int, learned: Learning
) -> None:
    question = ("как настроить впн на ноутбуке?" * 20)[:length]
    assert len(question.strip()) == length
    query_id, article_id = await _asked(session_factory, question)
    async with session_factory() as session:
        feedback = FeedbackService(session)
        await feedback.record(
            query_id=query_id, user_id=PERSON, article_id=article_id, label=Label.HELPFUL
        )
        await session.commit()
        assert await feedback.learn(query_id, article_id) is learned
    async with session_factory() as session:
        phrasings = await ArticleRepository(session).phrasings_of(article_id)
    assert (question in [p.text for p in phrasings]) is (learned is Learning.LEARNED)
