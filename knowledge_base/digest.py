"""Admins' digests: what happened since each admin's last one, and their mute switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.digests import DigestEvents, DigestMark, DigestRepository
from knowledge_base.storage.engine import read_only


@dataclass(frozen=True)
class PendingDigest:
    """A digest to send: the admin's mark before it, and the events it covers."""

    mark: DigestMark
    events: DigestEvents

    @property
    def admin_id(self) -> int:
        return self.mark.admin_id


class DigestService:
    """The digest use cases; a change commits once, at its end."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._digests = DigestRepository(session)

    async def track(self, admin_ids: frozenset[int]) -> None:
        """Give each admin without a mark one that starts now: a digest never carries what
        happened before the admin had digests at all."""
        marks = await self._digests.marks(admin_ids)
        missing = admin_ids - marks.keys()
        if not missing:
            await self._session.rollback()
            return
        last_query, last_feedback = await self._digests.last_ids()
        for admin_id in sorted(missing):
            await self._digests.add(
                admin_id, muted=False, query_id=last_query, feedback_id=last_feedback
            )
        await self._session.commit()

    async def muted(self, admin_ids: frozenset[int]) -> frozenset[int]:
        """The admins among `admin_ids` who muted their digest (and per-event notices)."""
        async with read_only(self._session):
            marks = await self._digests.marks(admin_ids)
        return frozenset(a for a, mark in marks.items() if mark.muted)

    async def set_muted(self, admin_id: int, muted: bool) -> None:
        last_query, last_feedback = await self._digests.last_ids()
        if admin_id not in await self._digests.marks(frozenset({admin_id})):
            await self._digests.add(
                admin_id, muted=muted, query_id=last_query, feedback_id=last_feedback
            )
        else:
            await self._digests.set_muted(admin_id, muted, last_query, last_feedback)
        await self._session.commit()

    async def pending(self, admin_id: int) -> PendingDigest | None:
        """What the admin's next digest would say; None when muted or nothing happened."""
        async with read_only(self._session):
            mark = (await self._digests.marks(frozenset({admin_id}))).get(admin_id)
            if mark is None or mark.muted:
                return None
            events = await self._digests.events(mark)
        if not events.any:
            return None
        return PendingDigest(mark, events)

    async def claim(self, digest: PendingDigest, now: datetime) -> bool:
        """Mark the digest's events as covered before it is sent; False if another process
        covered them first (it sends that digest, not this one)."""
        events = digest.events
        moved = await self._digests.move(
            digest.mark, events.last_query_id, events.last_feedback_id, now
        )
        await self._session.commit()
        return moved

    async def release(self, digest: PendingDigest) -> None:
        """The digest could not be sent: its events go into the next one."""
        events = digest.events
        claimed = DigestMark(
            digest.mark.admin_id, False, events.last_query_id, events.last_feedback_id
        )
        mark = digest.mark
        await self._digests.move(claimed, mark.seen_query_id, mark.seen_feedback_id, None)
        await self._session.commit()
