"""Who may change the base, and the audit trail of what they changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.engine import read_only
from knowledge_base.types import AuditEntry

log = logging.getLogger(__name__)


class NotAllowed(PermissionError):
    """Someone who is not an admin tried to change the base."""


@dataclass(frozen=True)
class Actor:
    """The person behind a use case. The use cases check them themselves, whatever filter let
    the update in: a write by anyone not in `admins` is refused and logged."""

    id: int
    admins: frozenset[int]
    # As Telegram gives them with the update, for the audit trail ("" when there is none).
    first_name: str = ""
    username: str = ""

    @property
    def audit_name(self) -> dict[str, str | None]:
        """The name arguments of `AuditRepository.add`."""
        return {"actor_name": self.first_name or None, "actor_username": self.username or None}

    @property
    def allowed(self) -> bool:
        return self.id in self.admins

    def check(self, action: str) -> None:
        if not self.allowed:
            log.warning("refused: %s by %s, who is not an admin", action, self.id)
            raise NotAllowed(action)


class AuditTrail:
    """The changes admins made, newest first."""

    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self._session = session
        self._actor = actor
        self._audit = AuditRepository(session)

    async def latest(self, limit: int) -> list[AuditEntry]:
        self._actor.check("audit")
        async with read_only(self._session):
            return await self._audit.latest(limit)

    async def entry(self, entry_id: int) -> AuditEntry | None:
        """One change, whole; None if there is no such entry."""
        self._actor.check("audit")
        async with read_only(self._session):
            return await self._audit.entry(entry_id)
