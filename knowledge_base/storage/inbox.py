"""The admins' inbox: questions still open, and how each one was closed."""

from __future__ import annotations

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import FeedbackRow, InboxResolutionRow, QueryRow
from knowledge_base.types import Band, InboxReason, InboxResolution, Label, OpenQuestion


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open_questions(self) -> list[OpenQuestion]:
        """Questions answered "don't know", «Нет подходящего», and 👎 not followed by a pick on
        the same question; minus those already attached or dismissed."""
        resolved = exists().where(InboxResolutionRow.query_id == QueryRow.id)
        none_fit = exists().where(
            and_(
                FeedbackRow.query_id == QueryRow.id,
                FeedbackRow.article_id.is_(None),
                FeedbackRow.label == Label.NOT_HELPFUL,
            )
        )
        not_helpful = exists().where(
            and_(
                FeedbackRow.query_id == QueryRow.id,
                FeedbackRow.article_id.is_not(None),
                FeedbackRow.label == Label.NOT_HELPFUL,
            )
        )
        found_later = exists().where(
            and_(FeedbackRow.query_id == QueryRow.id, FeedbackRow.label == Label.HELPFUL)
        )
        rows = await self._session.execute(
            select(
                QueryRow.id,
                QueryRow.user_id,
                QueryRow.text,
                QueryRow.created_at,
                none_fit.label("none_fit"),
                not_helpful.label("not_helpful"),
            )
            .where(~resolved)
            .where(
                (QueryRow.band == Band.NOTHING)
                | (none_fit & ~found_later)
                | (not_helpful & ~found_later)
            )
            .order_by(QueryRow.id)
        )
        return [
            OpenQuestion(
                row.id,
                row.user_id,
                row.text,
                row.created_at,
                InboxReason.NONE_FIT
                if row.none_fit
                else InboxReason.NOT_HELPFUL
                if row.not_helpful
                else InboxReason.NOTHING,
            )
            for row in rows
        ]

    async def resolve(
        self, query_id: int, status: InboxResolution, article_id: int | None, actor_id: int
    ) -> bool:
        """Take a question out of the inbox; False if it already was."""
        if await self._session.get(InboxResolutionRow, query_id) is not None:
            return False
        self._session.add(
            InboxResolutionRow(
                query_id=query_id, status=status, article_id=article_id, actor_id=actor_id
            )
        )
        await self._session.flush()
        return True
