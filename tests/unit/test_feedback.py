"""Recording clicks: what is stored, what a forged or repeated click cannot do, and what a
confirmed question teaches the article."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base import feedback as feedback_module
from knowledge_base.articles import ArticleService
from knowledge_base.feedback import FeedbackService
from knowledge_base.storage import engine as storage_engine
from knowledge_base.storage import faults
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.storage.faults import StoreUnavailable
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.storage.tables import FeedbackRow, QueryRow
from knowledge_base.types import (
    ArticleDraft,
    Band,
    FeedbackOutcome,
    Label,
    Learning,
    PhrasingSource,
    QuestionLog,
)

OWNER = 10


async def _query(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("VPN", "Шаги")])
        article = await ArticleService(session).all()
        queries = QueryRepository(session)
        [(query_id, _)] = await queries.log_many(
            [
                QuestionLog(
                    user_id=OWNER,
                    text="впн",
                    article_id=article[0].id,
                    score=0.9,
                    band=Band.ANSWER,
                    model_version="m",
                )
            ]
        )
        await queries.add_offers(query_id, [article[0].id])  # the answer shown
        await session.commit()
    return query_id, article[0].id


async def _record(
    session_factory: async_sessionmaker[AsyncSession], **click: object
) -> FeedbackOutcome:
    async with session_factory() as session:
        outcome = await FeedbackService(session).record(**click)  # type: ignore[arg-type]
        await session.commit()
    return outcome


async def _stored(
    session_factory: async_sessionmaker[AsyncSession],
) -> list[tuple[int | None, int]]:
    async with session_factory() as session:
        rows = (await session.scalars(select(FeedbackRow).order_by(FeedbackRow.id))).all()
    return [(r.article_id, r.label) for r in rows]


async def test_a_double_tap_is_stored_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    query_id, article_id = await _query(session_factory)
    click = {
        "query_id": query_id,
        "user_id": OWNER,
        "article_id": article_id,
        "label": Label.HELPFUL,
    }
    assert await _record(session_factory, **click) is FeedbackOutcome.RECORDED
    assert await _record(session_factory, **click) is FeedbackOutcome.ALREADY_RECORDED
    none_fit = {
        "query_id": query_id,
        "user_id": OWNER,
        "article_id": None,
        "label": Label.NOT_HELPFUL,
    }
    assert await _record(session_factory, **none_fit) is FeedbackOutcome.RECORDED
    assert await _record(session_factory, **none_fit) is FeedbackOutcome.ALREADY_RECORDED
    assert await _stored(session_factory) == [(article_id, 1), (None, -1)]


async def test_a_changed_vote_is_kept_beside_the_first(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    query_id, article_id = await _query(session_factory)
    for label in (Label.HELPFUL, Label.NOT_HELPFUL):
        outcome = await _record(
            session_factory, query_id=query_id, user_id=OWNER, article_id=article_id, label=label
        )
        assert outcome is FeedbackOutcome.RECORDED
    assert await _stored(session_factory) == [(article_id, 1), (article_id, -1)]


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"query_id": 999}, FeedbackOutcome.UNKNOWN_QUERY),
        ({"user_id": OWNER + 1}, FeedbackOutcome.UNKNOWN_QUERY),
        ({"article_id": 999}, FeedbackOutcome.UNKNOWN_ARTICLE),
        ({"label": 7}, FeedbackOutcome.UNKNOWN_ARTICLE),
        ({"label": 0}, FeedbackOutcome.UNKNOWN_ARTICLE),
        ({"article_id": None, "label": Label.HELPFUL}, FeedbackOutcome.UNKNOWN_ARTICLE),
    ],
)
async def test_a_forged_click_stores_nothing(
    session_factory: async_sessionmaker[AsyncSession],
    change: dict[str, object],
    outcome: FeedbackOutcome,
) -> None:
    query_id, article_id = await _query(session_factory)
    click = {
        "query_id": query_id,
        "user_id": OWNER,
        "article_id": article_id,
        "label": Label.HELPFUL,
    }
    assert await _record(session_factory, **{**click, **change}) is outcome
    assert await _stored(session_factory) == []


async def test_only_an_article_offered_for_the_question_can_be_clicked(
    session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    query_id, offered = await _query(session_factory)
    async with session_factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("Пароль", "Шаги")])
        other = next(a.id for a in await ArticleService(session).all() if a.id != offered)
    forged = {"query_id": query_id, "user_id": OWNER, "article_id": other}
    with caplog.at_level(logging.WARNING, logger=feedback_module.__name__):
        assert (
            await _record(session_factory, **forged, label=Label.HELPFUL)
            is FeedbackOutcome.UNKNOWN_ARTICLE
        )
    assert [r.getMessage() for r in caplog.records] == [
        f"query {query_id}: refused a click on article {other}, never offered"
    ]
    assert (
        await _record(session_factory, **forged, label=Label.NOT_HELPFUL)
        is FeedbackOutcome.UNKNOWN_ARTICLE
    )
    assert await _stored(session_factory) == []
    # Offered later (the follow-up after a 👎): now it can be picked.
    async with session_factory() as session:
        await QueryRepository(session).add_offers(query_id, [other])
        await session.commit()
    assert await _record(session_factory, **forged, label=Label.HELPFUL) is FeedbackOutcome.RECORDED


async def test_a_question_from_before_offers_were_kept_accepts_its_clicks(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    query_id, article_id = await _query(session_factory)
    async with session_factory() as session:
        await session.execute(
            update(QueryRow).where(QueryRow.id == query_id).values(offers_recorded=False)
        )
        await session.commit()
    click = {
        "query_id": query_id,
        "user_id": OWNER,
        "article_id": article_id,
        "label": Label.HELPFUL,
    }
    assert await _record(session_factory, **click) is FeedbackOutcome.RECORDED


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == feedback_module.__name__]


async def test_a_click_is_stored_with_who_clicked_and_logged_with_its_query(
    session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    query_id, article_id = await _query(session_factory)
    click = {"query_id": query_id, "user_id": OWNER}
    with caplog.at_level(logging.INFO, logger=feedback_module.__name__):
        await _record(session_factory, **click, article_id=article_id, label=Label.HELPFUL)
        await _record(session_factory, **click, article_id=None, label=Label.NOT_HELPFUL)
    async with session_factory() as session:
        people = (await session.scalars(select(FeedbackRow.user_id).order_by(FeedbackRow.id))).all()
    assert people == [OWNER, OWNER]
    assert _lines(caplog) == [
        f"query {query_id}: feedback +1 for article {article_id}",
        f"query {query_id}: feedback -1 for article None",
    ]


async def _article(
    session_factory: async_sessionmaker[AsyncSession], title: str, *questions: str
) -> int:
    async with session_factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft(title, "Шаги", questions)])
        return next(a.id for a in await ArticleService(session).all() if a.title == title)


async def _ask(
    session_factory: async_sessionmaker[AsyncSession],
    person: int | None,
    text: str,
    article_id: int,
) -> int:
    """A question the article answered, shown with the answer; its query id."""
    async with session_factory() as session:
        queries = QueryRepository(session)
        [(query_id, _)] = await queries.log_many(
            [QuestionLog(person, text, article_id, 0.95, Band.ANSWER, "m")]
        )
        await queries.add_offers(query_id, [article_id])
        await session.commit()
    return query_id


async def _confirm(
    session_factory: async_sessionmaker[AsyncSession],
    query_id: int,
    person: int | None,
    article_id: int,
    **policy: int | bool,
) -> Learning:
    """A 👍 on the article, then what it teaches, as the feedback handler does."""
    async with session_factory() as session:
        service = FeedbackService(session)
        click = await service.record(
            query_id=query_id, user_id=person, article_id=article_id, label=Label.HELPFUL
        )
        assert click is FeedbackOutcome.RECORDED
        return await service.learn(query_id, article_id, **policy)  # type: ignore[arg-type]


async def _learn(
    session_factory: async_sessionmaker[AsyncSession], query_id: int, article_id: int
) -> Learning:
    async with session_factory() as session:
        return await FeedbackService(session).learn(query_id, article_id)


async def _phrasings(
    session_factory: async_sessionmaker[AsyncSession], article_id: int
) -> list[tuple[str, PhrasingSource]]:
    async with session_factory() as session:
        phrasings = await ArticleRepository(session).phrasings_of(article_id)
    return [(p.text, p.source) for p in phrasings]


async def test_a_confirmed_question_is_learned_as_a_phrasing_of_the_article_once(
    session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    article_id = await _article(session_factory, "VPN")
    query_id = await _ask(session_factory, OWNER, "  Как подключить VPN?  ", article_id)
    with caplog.at_level(logging.INFO, logger=feedback_module.__name__):
        assert await _confirm(session_factory, query_id, OWNER, article_id) is Learning.LEARNED
    assert await _phrasings(session_factory, article_id) == [
        ("VPN", PhrasingSource.TITLE),
        ("Как подключить VPN?", PhrasingSource.FEEDBACK),
    ]
    assert _lines(caplog)[-1] == (
        f"query {query_id}: learned as a phrasing of article {article_id} (feedback)"
    )
    assert await _learn(session_factory, query_id, article_id) is Learning.NOTHING
    assert len(await _phrasings(session_factory, article_id)) == 2


async def test_with_auto_learning_off_a_confirmed_question_waits_for_an_admin(
    session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    article_id = await _article(session_factory, "VPN")
    query_id = await _ask(session_factory, OWNER, "как подключить vpn", article_id)
    with caplog.at_level(logging.INFO, logger=feedback_module.__name__):
        learned = await _confirm(session_factory, query_id, OWNER, article_id, auto=False)
    assert learned is Learning.PENDING
    assert await _phrasings(session_factory, article_id) == [
        ("VPN", PhrasingSource.TITLE),
        ("как подключить vpn", PhrasingSource.PENDING),
    ]
    assert _lines(caplog)[-1].endswith(f"article {article_id} (pending)")


async def test_words_the_article_has_in_another_case_or_spacing_are_not_learned_again(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    article_id = await _article(session_factory, "VPN", "Как подключить VPN")
    query_id = await _ask(session_factory, OWNER, "как   подключить vpn", article_id)
    assert await _confirm(session_factory, query_id, OWNER, article_id) is Learning.NOTHING
    assert await _phrasings(session_factory, article_id) == [
        ("VPN", PhrasingSource.TITLE),
        ("Как подключить VPN", PhrasingSource.IMPORT),
    ]


async def test_an_archived_article_learns_nothing_from_a_click_it_got_before(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    article_id = await _article(session_factory, "VPN")
    query_id = await _ask(session_factory, OWNER, "как подключить vpn", article_id)
    async with session_factory() as session:
        assert (
            await FeedbackService(session).record(
                query_id=query_id, user_id=OWNER, article_id=article_id, label=Label.HELPFUL
            )
            is FeedbackOutcome.RECORDED
        )
        assert await ArticleRepository(session).archive(article_id)
        await session.commit()
    assert await _learn(session_factory, query_id, article_id) is Learning.NOTHING
    assert await _phrasings(session_factory, article_id) == [("VPN", PhrasingSource.TITLE)]


async def test_nothing_is_learned_for_an_article_unknown_or_not_offered_for_the_question(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    article_id = await _article(session_factory, "VPN")
    other = await _article(session_factory, "Пароль")
    query_id = await _ask(session_factory, OWNER, "как подключить vpn", article_id)
    assert await _learn(session_factory, query_id, 999) is Learning.NOTHING
    assert await _learn(session_factory, query_id, other) is Learning.NOTHING
    assert await _phrasings(session_factory, other) == [("Пароль", PhrasingSource.TITLE)]


async def test_a_question_from_before_offers_were_kept_teaches_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    article_id = await _article(session_factory, "VPN")
    query_id = await _ask(session_factory, OWNER, "как подключить vpn", article_id)
    async with session_factory() as session:
        await session.execute(
            update(QueryRow).where(QueryRow.id == query_id).values(offers_recorded=False)
        )
        await session.commit()
    # Its click counts for training, but nothing proves the bot showed the article.
    assert await _confirm(session_factory, query_id, OWNER, article_id) is Learning.NOTHING
    assert await _phrasings(session_factory, article_id) == [("VPN", PhrasingSource.TITLE)]


async def test_with_two_confirmations_needed_a_question_is_learned_when_a_second_person_asks_it(
    session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    article_id = await _article(session_factory, "VPN")
    two = {"min_confirmations": 2}
    # Someone else confirmed the article for other words: that is no confirmation of these.
    elsewhere = await _ask(session_factory, 30, "впн не работает", article_id)
    assert await _confirm(session_factory, elsewhere, 30, article_id, **two) is Learning.WAITING
    first = await _ask(session_factory, OWNER, "Как подключить VPN", article_id)
    with caplog.at_level(logging.INFO, logger=feedback_module.__name__):
        assert await _confirm(session_factory, first, OWNER, article_id, **two) is Learning.WAITING
    assert _lines(caplog)[-1] == (
        f"query {first}: confirmed for article {article_id} by 1 of 2 people needed"
    )
    # The same person asking again, in other case and spacing, is still one person.
    again = await _ask(session_factory, OWNER, "как подключить  vpn", article_id)
    assert await _confirm(session_factory, again, OWNER, article_id, **two) is Learning.WAITING
    second = await _ask(session_factory, 20, "КАК ПОДКЛЮЧИТЬ VPN", article_id)
    assert await _confirm(session_factory, second, 20, article_id, **two) is Learning.LEARNED
    assert await _phrasings(session_factory, article_id) == [
        ("VPN", PhrasingSource.TITLE),
        ("КАК ПОДКЛЮЧИТЬ VPN", PhrasingSource.FEEDBACK),
    ]


async def test_the_question_of_a_query_is_its_text_and_none_for_an_unknown_one(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    query_id, _ = await _query(session_factory)
    async with session_factory() as session:
        service = FeedbackService(session)
        assert await service.question_of(query_id) == "впн"
        assert await service.question_of(query_id + 1) is None


async def test_a_click_and_a_lesson_the_database_refuses_fail_after_the_services_bound(
    session_factory: async_sessionmaker[AsyncSession],
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    query_id, article_id = await _query(session_factory)
    # The 👍 is stored before the database is locked; "none of these fit" comes after.
    thumbs_up = {"query_id": query_id, "user_id": OWNER, "article_id": article_id}
    assert await _record(session_factory, **thumbs_up, label=Label.HELPFUL) is (
        FeedbackOutcome.RECORDED
    )
    monkeypatch.setattr(storage_engine, "BUSY_TIMEOUT_MS", 0)  # a lock refuses at once
    monkeypatch.setattr(faults, "EPISODES", faults.FaultEpisodes())
    engine = create_engine(migrated_url)
    try:
        path = migrated_url.removeprefix("sqlite+aiosqlite:///")
        with closing(sqlite3.connect(path, isolation_level=None)) as other_writer:
            other_writer.execute("BEGIN IMMEDIATE")  # holds the write lock throughout
            async with create_session_factory(engine)() as session:
                # A bound of 0 s gives up at the first refusal; the default bound would retry
                # for 120 s, far past this guard.
                service = FeedbackService(session, write_retry_seconds=0)
                async with asyncio.timeout(10):
                    with pytest.raises(StoreUnavailable):
                        await service.record(
                            query_id=query_id,
                            user_id=OWNER,
                            article_id=None,
                            label=Label.NOT_HELPFUL,
                        )
                    with pytest.raises(StoreUnavailable):
                        await service.learn(query_id, article_id)
    finally:
        await engine.dispose()
    assert await _stored(session_factory) == [(article_id, Label.HELPFUL)]
    assert await _phrasings(session_factory, article_id) == [("VPN", PhrasingSource.TITLE)]
