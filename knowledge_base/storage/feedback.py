"""Clicks under answers: the training pairs' raw material."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.inserts import insert_skipping_duplicates
from knowledge_base.storage.tables import ArticleRow, FeedbackRow, QueryRow, utcnow
from knowledge_base.types import Click, Label


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, query_id: int, article_id: int | None, label: Label, user_id: int | None
    ) -> int | None:
        """Store a click; None when the same click is already stored (a double tap).

        One statement that skips a duplicate instead of failing on it: no savepoint to roll
        back, so nothing is left half-open while the caller talks to Telegram.
        """
        values = {
            "query_id": query_id,
            "article_id": article_id,
            "label": label,
            "user_id": user_id,
            "created_at": utcnow(),
        }
        statement = insert_skipping_duplicates(self._session, FeedbackRow, [values])
        if statement is not None:
            return await self._session.scalar(statement.returning(FeedbackRow.id))
        row = FeedbackRow(**values)
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return None
        return row.id

    async def confirmations(self, article_id: int) -> list[tuple[str, int | None]]:
        """(question, person) of every 👍 and pick of an article, oldest first."""
        rows = await self._session.execute(
            select(QueryRow.text, FeedbackRow.user_id)
            .join(QueryRow, QueryRow.id == FeedbackRow.query_id)
            .where(FeedbackRow.article_id == article_id, FeedbackRow.label == Label.HELPFUL)
            .order_by(FeedbackRow.id)
        )
        return [(row.text, row.user_id) for row in rows]

    async def clicks_on_active_articles(self) -> list[Click]:
        """Every 👍/👎 on an article that is still served, with the question's text."""
        rows = await self._session.execute(
            select(QueryRow.text, FeedbackRow.article_id, FeedbackRow.label)
            .join(QueryRow, QueryRow.id == FeedbackRow.query_id)
            .join(ArticleRow, ArticleRow.id == FeedbackRow.article_id)
            .where(ArticleRow.archived.is_(False))
            .order_by(FeedbackRow.id)
        )
        return [Click(r.text, r.article_id, Label(r.label)) for r in rows]
