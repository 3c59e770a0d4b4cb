"""Admins' digest: every N minutes, each admin who wants one hears what went unanswered and
which answers did not help since their last digest, if anything did."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keyboards
from bot.config import Settings
from bot.notifications import notify_admins, send_unasked
from bot.runtime.periodic import Periodic
from bot.texts import admin as admin_texts
from knowledge_base.audit import Actor
from knowledge_base.digest import DigestService, PendingDigest
from knowledge_base.inbox import InboxService
from knowledge_base.search.engine import SearchEngine

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AdminDigest:
    """Decides how admins hear of unanswered questions and 👎: a digest every
    ADMIN_DIGEST_MINUTES (what it covered is kept in the database, so a restart or a second
    process neither repeats nor loses an event), or one message per event when that is 0.
    An admin who muted it in /settings hears neither."""

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        engine: SearchEngine,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._engine = engine
        # How the period is waited out (a test passes a fake clock's).
        self._sleep = sleep
        self._now = now
        self._periodic: Periodic | None = None

    @property
    def minutes(self) -> int:
        return self._settings.admin_digest_minutes

    async def start(self, bot: Bot) -> None:
        """Marks where each admin's digests begin, then sends them every period."""
        admins = self._settings.admin_ids
        if self.minutes <= 0 or not admins:
            return
        try:
            async with self._session_factory() as session:
                await DigestService(session).track(admins)
        except Exception:  # the first digest will try again; the bot must start regardless
            log.exception("could not mark where the admins' digests begin")
        self._periodic = Periodic(
            lambda: self.send_due(bot),
            lambda: self.minutes * 60,
            "digest round failed; the next one covers its events",
            log,
            sleep=self._sleep,
        )
        self._periodic.start()

    async def stop(self) -> None:
        if self._periodic is not None:
            await self._periodic.stop()
            self._periodic = None

    async def send_due(self, bot: Bot) -> int:
        """One round: a digest to each admin with something new; returns how many got one."""
        admins = self._settings.admin_ids
        async with self._session_factory() as session:
            await DigestService(session).track(admins)
        sent = 0
        for admin_id in sorted(admins):
            try:
                sent += await self._send_one(bot, admin_id)
            except Exception:  # one admin's trouble must not cost the others their digest
                log.exception("digest for admin %d failed", admin_id)
        return sent

    async def _send_one(self, bot: Bot, admin_id: int) -> int:
        async with self._session_factory() as session:
            digests = DigestService(session)
            pending = await digests.pending(admin_id)
            if pending is None:
                return 0
            text = await self._text(session, admin_id, pending)
            # Claimed before it is sent: of two processes only one sends it.
            if not await digests.claim(pending, self._now()):
                return 0
        if await send_unasked(bot, admin_id, text, keyboards.open_inbox()):
            return 1
        async with self._session_factory() as session:
            await DigestService(session).release(pending)
        return 0

    async def _text(self, session: AsyncSession, admin_id: int, pending: PendingDigest) -> str:
        try:
            inbox = InboxService(session, Actor(admin_id, frozenset({admin_id})), self._engine)
            groups = await inbox.groups()
        except Exception:  # the counts are the digest; the groups only help
            log.exception("the digest goes without the inbox's groups")
            groups = []
        finally:
            await session.rollback()
        events = pending.events
        seen = pending.mark.seen_query_id
        shown = [g for g in groups if g.questions]
        # Largest first; of equal ones the newest first (a question of this period is news).
        shown.sort(key=lambda g: (-g.size, -max(q.query_id for q in g.questions)))
        return admin_texts.digest(
            self.minutes,
            events.unanswered,
            events.not_helpful,
            [
                (g.size, g.questions[0].text, sum(q.query_id > seen for q in g.questions))
                for g in shown
            ],
            none_fit=events.none_fit,
        )

    async def event(self, bot: Bot, text: str, *, author: int | None) -> int:
        """An unanswered question or a 👎 happened (it is stored already): with digests on, the
        next digest tells it; with them off, every admin who did not mute them hears now."""
        if self.minutes > 0:
            return 0
        admins = self._settings.admin_ids
        try:
            async with self._session_factory() as session:
                muted = await DigestService(session).muted(admins)
        except Exception:  # better an unwanted notice than a lost one
            log.exception("could not read who muted notices; telling every admin")
            muted = frozenset()
        return await notify_admins(bot, admins - muted, text, author=author)
