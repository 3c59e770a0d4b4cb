"""The audit log of what admins changed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import AuditRow
from knowledge_base.types import AuditAction, AuditEntry


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, actor_id: int, action: AuditAction, article_id: int | None, before: str, after: str
    ) -> None:
        self._session.add(
            AuditRow(
                actor_id=actor_id,
                action=action,
                article_id=article_id,
                before=before,
                after=after,
            )
        )
        await self._session.flush()

    async def latest(self, limit: int) -> list[AuditEntry]:
        rows = await self._session.scalars(
            select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        )
        return [
            AuditEntry(
                r.id, r.actor_id, r.at, AuditAction(r.action), r.article_id, r.before, r.after
            )
            for r in rows
        ]
