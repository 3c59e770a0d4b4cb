"""Admins' digests: their mute switch, and what each digest already covered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import AdminDigestRow, FeedbackRow, QueryRow
from knowledge_base.types import Band, Label


@dataclass(frozen=True)
class DigestMark:
    """Where an admin's digest stands: the last question and feedback row it covered."""

    admin_id: int
    muted: bool
    seen_query_id: int
    seen_feedback_id: int


@dataclass(frozen=True)
class DigestEvents:
    """What happened after a mark, by people other than the admin, and up to which rows."""

    # Questions the bot answered "don't know" (the band /stats calls «без ответа»).
    unanswered: int
    # 👎 on an article, as /stats counts them.
    not_helpful: int
    last_query_id: int
    last_feedback_id: int
    # «Нет подходящего» under the suggestions.
    none_fit: int = 0

    @property
    def any(self) -> bool:
        return bool(self.unanswered or self.not_helpful or self.none_fit)


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def marks(self, admin_ids: frozenset[int]) -> dict[int, DigestMark]:
        rows = await self._session.scalars(
            select(AdminDigestRow).where(AdminDigestRow.admin_id.in_(admin_ids))
        )
        return {
            row.admin_id: DigestMark(
                row.admin_id, row.muted, row.seen_query_id, row.seen_feedback_id
            )
            for row in rows
        }

    async def last_ids(self) -> tuple[int, int]:
        """The newest question and feedback row ids (0 for none)."""
        last_query = await self._session.scalar(select(func.max(QueryRow.id)))
        last_feedback = await self._session.scalar(select(func.max(FeedbackRow.id)))
        return last_query or 0, last_feedback or 0

    async def add(self, admin_id: int, *, muted: bool, query_id: int, feedback_id: int) -> None:
        self._session.add(
            AdminDigestRow(
                admin_id=admin_id,
                muted=muted,
                seen_query_id=query_id,
                seen_feedback_id=feedback_id,
            )
        )
        await self._session.flush()

    async def events(self, mark: DigestMark) -> DigestEvents:
        last_query, last_feedback = await self.last_ids()
        someone_else = or_(QueryRow.user_id.is_(None), QueryRow.user_id != mark.admin_id)
        unanswered = await self._session.scalar(
            select(func.count()).where(
                QueryRow.id > mark.seen_query_id,
                QueryRow.id <= last_query,
                QueryRow.band == Band.NOTHING.value,
                someone_else,
            )
        )
        clicks = (
            select(FeedbackRow.article_id.is_(None), func.count())
            .where(
                FeedbackRow.id > mark.seen_feedback_id,
                FeedbackRow.id <= last_feedback,
                FeedbackRow.label == Label.NOT_HELPFUL,
                or_(FeedbackRow.user_id.is_(None), FeedbackRow.user_id != mark.admin_id),
            )
            .group_by(FeedbackRow.article_id.is_(None))
        )
        # A 👎 names its article; «Нет подходящего» has none.
        counts = {bool(none): int(count) for none, count in await self._session.execute(clicks)}
        return DigestEvents(
            unanswered or 0,
            counts.get(False, 0),
            last_query,
            last_feedback,
            none_fit=counts.get(True, 0),
        )

    async def move(
        self, mark: DigestMark, query_id: int, feedback_id: int, sent_at: datetime | None
    ) -> bool:
        """Move the mark on, only if it still stands where `mark` says: of two processes
        sending the same digest, one wins. True if this one did."""
        result = await self._session.execute(
            update(AdminDigestRow)
            .where(
                AdminDigestRow.admin_id == mark.admin_id,
                AdminDigestRow.seen_query_id == mark.seen_query_id,
                AdminDigestRow.seen_feedback_id == mark.seen_feedback_id,
            )
            .values(seen_query_id=query_id, seen_feedback_id=feedback_id, sent_at=sent_at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_muted(self, admin_id: int, muted: bool, query_id: int, feedback_id: int) -> None:
        """Mute or unmute; unmuting starts from now, so the first digest is not a backlog."""
        values: dict[str, object] = {"muted": muted}
        if not muted:
            values.update(seen_query_id=query_id, seen_feedback_id=feedback_id)
        await self._session.execute(
            update(AdminDigestRow).where(AdminDigestRow.admin_id == admin_id).values(**values)
        )
