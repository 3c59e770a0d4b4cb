"""The audit log of what admins changed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import ArticleRow, AuditRow
from knowledge_base.types import AuditAction, AuditEntry


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        actor_id: int,
        action: AuditAction,
        article_id: int | None,
        before: str,
        after: str,
        *,
        actor_name: str | None = None,
        actor_username: str | None = None,
        title: str | None = None,
    ) -> None:
        """Records an act in the caller's transaction, with the article's title as it is now
        (unless given) and the actor's name. An act without a name (a training finished in
        its own process knows only the id) takes the name of the actor's latest record."""
        if title is None and article_id is not None:
            title = await self._session.scalar(
                select(ArticleRow.title).where(ArticleRow.id == article_id)
            )
        if actor_name is None and actor_username is None:
            known = (
                await self._session.execute(
                    select(AuditRow.actor_name, AuditRow.actor_username)
                    .where(AuditRow.actor_id == actor_id, AuditRow.actor_name.is_not(None))
                    .order_by(AuditRow.id.desc())
                    .limit(1)
                )
            ).first()
            if known is not None:
                actor_name, actor_username = known
        self._session.add(
            AuditRow(
                actor_id=actor_id,
                action=action,
                article_id=article_id,
                before=before,
                after=after,
                actor_name=actor_name,
                actor_username=actor_username,
                title=title,
            )
        )
        await self._session.flush()

    async def latest(self, limit: int) -> list[AuditEntry]:
        rows = await self._session.execute(
            select(AuditRow, ArticleRow.title)
            .outerjoin(ArticleRow, ArticleRow.id == AuditRow.article_id)
            .order_by(AuditRow.id.desc())
            .limit(limit)
        )
        return [_entry(row, current) for row, current in rows]

    async def entry(self, entry_id: int) -> AuditEntry | None:
        found = (
            await self._session.execute(
                select(AuditRow, ArticleRow.title)
                .outerjoin(ArticleRow, ArticleRow.id == AuditRow.article_id)
                .where(AuditRow.id == entry_id)
            )
        ).first()
        return _entry(*found) if found is not None else None


def _entry(row: AuditRow, current_title: str | None) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        actor_id=row.actor_id,
        at=row.at,
        action=_action(row.action),
        article_id=row.article_id,
        before=row.before,
        after=row.after,
        actor_name=row.actor_name,
        actor_username=row.actor_username,
        title=row.title,
        current_title=current_title,
    )


def _action(stored: str) -> AuditAction | str:
    """A newer version's action read by an older one stays a string (shown as «изменение»)."""
    try:
        return AuditAction(stored)
    except ValueError:
        return stored
