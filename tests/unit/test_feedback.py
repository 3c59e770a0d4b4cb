"""Recording clicks: what is stored, and what a forged or repeated click cannot do."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.feedback import FeedbackService
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.storage.tables import FeedbackRow, QueryRow
from knowledge_base.types import ArticleDraft, Band, FeedbackOutcome, Label, QuestionLog

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
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    query_id, offered = await _query(session_factory)
    async with session_factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("Пароль", "Шаги")])
        other = next(a.id for a in await ArticleService(session).all() if a.id != offered)
    forged = {"query_id": query_id, "user_id": OWNER, "article_id": other}
    assert (
        await _record(session_factory, **forged, label=Label.HELPFUL)
        is FeedbackOutcome.UNKNOWN_ARTICLE
    )
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
