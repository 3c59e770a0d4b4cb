"""What the numbers admins watch are counted from: questions, clicks and answers since a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import ArticleRow, FeedbackRow, QueryRow
from knowledge_base.types import Band, Label


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def questions_since(self, since: datetime) -> list[tuple[datetime, Band]]:
        """(time, band) of every question asked since then."""
        rows = await self._session.execute(
            select(QueryRow.created_at, QueryRow.band).where(QueryRow.created_at >= since)
        )
        return [(created, Band(band)) for created, band in rows]

    async def votes_since(self, since: datetime) -> list[tuple[datetime, Label]]:
        """(time, label) of every 👍/👎 on an article since then («Нет подходящего» is none)."""
        rows = await self._session.execute(
            select(FeedbackRow.created_at, FeedbackRow.label).where(
                FeedbackRow.created_at >= since, FeedbackRow.article_id.is_not(None)
            )
        )
        return [(created, Label(label)) for created, label in rows]

    async def most_answered(self, since: datetime, limit: int) -> list[tuple[str, int]]:
        """(title, answers) of the articles most often given as a direct answer since then."""
        answered = func.count(QueryRow.id)
        rows = await self._session.execute(
            select(ArticleRow.title, answered)
            .join(QueryRow, QueryRow.article_id == ArticleRow.id)
            .where(QueryRow.created_at >= since, QueryRow.band == Band.ANSWER)
            .group_by(ArticleRow.title)
            .order_by(answered.desc(), ArticleRow.title)
            .limit(limit)
        )
        return [(title, int(count)) for title, count in rows]
