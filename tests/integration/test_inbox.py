"""The admins' inbox: which questions wait, how they group, and `faqbot inbox`."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.inbox import format_groups
from knowledge_base.articles import ArticleService
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.feedback import FeedbackService
from knowledge_base.inbox import group_questions, open_questions
from knowledge_base.io import read_articles
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.service import SearchService
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.types import Label
from tests.fakes.paths import SAMPLE_BASE

# Every question answered, so only clicks decide what lands in the inbox.
ANSWER_ALL = Thresholds(answer=0.0, suggest=0.0)
NOTHING = Thresholds(answer=1.01, suggest=1.01)


async def test_unanswered_none_fit_and_unresolved_thumbs_down_wait_grouped_by_meaning(
    e5_onnx_encoder: OnnxEncoder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(read_articles(SAMPLE_BASE))
    engine = SearchEngine(e5_onnx_encoder, NOTHING)
    await engine.rebuild(session_factory)

    async def ask(text: str, user: int) -> int:
        async with session_factory() as session:
            answer = await SearchService(engine, AnswerLog(session_factory), session).answer(
                text, user_id=user
            )
        assert answer.query_id is not None
        return answer.query_id

    # "Don't know": three people ask about the gym, one about the canteen menu.
    gym = [
        await ask("есть ли у компании корпоративный спортзал", 1),
        await ask("корпоративный спортзал для сотрудников есть?", 2),
        await ask("есть ли у нас корпоративный спортзал", 3),
    ]
    menu = await ask("какое меню в столовой на этой неделе", 4)

    engine.snapshot = replace(engine.snapshot, thresholds=ANSWER_ALL)
    answered = await ask("как сменить пароль", 5)
    rejected = await ask("как оформить отпуск", 6)
    rejected_then_found = await ask("как получить справку", 7)
    async with session_factory() as session:
        feedback = FeedbackService(session)
        offered = await _answered_article(session_factory, rejected)
        await feedback.record(
            query_id=rejected, user_id=6, article_id=offered, label=Label.NOT_HELPFUL
        )
        await feedback.record(
            query_id=rejected, user_id=6, article_id=None, label=Label.NOT_HELPFUL
        )
        found = await _answered_article(session_factory, rejected_then_found)
        await feedback.record(
            query_id=rejected_then_found, user_id=7, article_id=found, label=Label.HELPFUL
        )

    async with session_factory() as session:
        waiting = await open_questions(session)
    assert {q.query_id for q in waiting} == {*gym, menu, rejected}
    assert answered not in {q.query_id for q in waiting}
    assert {q.query_id: q.reason for q in waiting}[rejected] == "none_fit"

    groups = await group_questions(engine, waiting)
    assert sorted(q.query_id for q in groups[0].questions) == sorted(gym)
    assert groups[0].askers == {1, 2, 3}
    assert sorted(g.size for g in groups) == [1, 1, 3]
    assert all(g.closest is not None for g in groups)
    shown = format_groups(groups)
    assert shown.startswith("5 open questions in 3 groups, largest first.")
    assert "#1  3 questions from 3 people; closest article: " in shown


async def _answered_article(
    session_factory: async_sessionmaker[AsyncSession], query_id: int
) -> int:
    from knowledge_base.storage.queries import QueryRepository

    async with session_factory() as session:
        record = await QueryRepository(session).get(query_id)
    assert record is not None and record.article_id is not None
    return record.article_id


def test_an_empty_inbox_says_so() -> None:
    assert format_groups([]) == "The inbox is empty: every question was answered."
