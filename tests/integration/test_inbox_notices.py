"""Pending inbox notices in the database: taken once however many processes look, and sent by
the background task of `faqbot run` once their undo period is over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime.inbox_notices import InboxNoticeSender
from knowledge_base.articles import ArticleService
from knowledge_base.audit import Actor
from knowledge_base.inbox import InboxNotices, InboxService
from knowledge_base.io import read_articles
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import Article, Band, QuestionLog
from tests.fakes.clock import FakeClock
from tests.fakes.encoders import FakeEncoder
from tests.fakes.paths import SAMPLE_BASE

ADMIN = 1
START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


async def _attached_notice(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Two people's questions attached to the first article, their notice due at START."""
    async with session_factory() as session:
        await ArticleService(session).import_drafts(read_articles(SAMPLE_BASE))
    async with session_factory() as session:
        logged = await QueryRepository(session).log_many(
            [
                QuestionLog(user, text, None, 0.0, Band.NOTHING, "test")
                for user, text in ((11, "есть ли спортзал"), (12, "где спортзал"))
            ]
        )
        await session.commit()
    ids = [query_id for query_id, _ in logged]
    # Attaching encodes nothing: any encoder does.
    engine = SearchEngine(FakeEncoder({"": [1.0]}), Thresholds(answer=1.01, suggest=1.01))
    async with session_factory() as session:
        inbox = InboxService(session, Actor(ADMIN, frozenset({ADMIN})), engine)
        attached = await inbox.attach(ids, 1, notify_at=START)
    assert attached.count == 2 and attached.notice_id is not None
    return attached.notice_id


async def test_of_two_processes_only_one_takes_a_due_notice(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    notice = await _attached_notice(session_factory)
    first, second = InboxNotices(session_factory), InboxNotices(session_factory)
    assert await first.due(START - timedelta(seconds=1)) == []
    assert await first.claim(notice, START - timedelta(seconds=1)) is None  # not due yet
    assert await first.due(START) == [notice]
    taken = await asyncio.gather(first.claim(notice, START), second.claim(notice, START))
    assert sorted(t is None for t in taken) == [False, True]
    [(article, people)] = [t for t in taken if t is not None]
    assert article is not None and article.id == 1
    assert [p[0] for p in people] == [11, 12]
    assert await second.due(START + timedelta(days=1)) == []


async def test_the_background_task_tells_once_the_period_is_over(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _attached_notice(session_factory)
    clock = FakeClock()
    told: list[tuple[int, int]] = []

    async def tell(people: list[tuple[int, int, str]], article: Article) -> int:
        told.extend((user, article.id) for user, _, _ in people)
        return len(people)

    sender = InboxNoticeSender(
        session_factory,
        tell,
        clock=lambda: START - timedelta(seconds=30) + timedelta(seconds=clock()),
        sleep=clock.sleep,
        interval=15,
    )
    await sender.start()
    try:
        await clock.until_sleeping()  # the first look, 30 s early: nothing
        assert told == []
        clock.advance(15)
        await clock.until_sleeping()  # 15 s early: still nothing
        assert told == []
        clock.advance(15)
        await clock.until_sleeping()  # due: both told
        assert told == [(11, 1), (12, 1)]
        clock.advance(15)
        await clock.until_sleeping()
        assert told == [(11, 1), (12, 1)]  # and never again
    finally:
        await sender.stop()
