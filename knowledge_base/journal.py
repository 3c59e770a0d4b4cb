"""The journal of incoming messages: stored before the transport confirms them, marked handled
once answered, so a message that arrived is never lost to a crash in between."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.repositories import insert_skipping_duplicates
from knowledge_base.tables import InboundMessageRow, utcnow

HANDLED = "handled"
GIVEN_UP = "given_up"


@dataclass(frozen=True)
class InboundMessage:
    key: int
    payload: str
    # How many times handling it had started before, each ended by a crash.
    attempts: int


@dataclass(frozen=True)
class Unfinished:
    """What the previous run left: messages to handle again, and those given up on."""

    resume: list[InboundMessage]
    given_up: list[InboundMessage]


class MessageJournal:
    """One source's journal (a bot), each method its own short transaction."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], source: int) -> None:
        self._session_factory = session_factory
        self._source = source

    async def record(self, messages: Sequence[tuple[int, str]]) -> set[int]:
        """Store the messages of one delivery; the keys that were new (a message delivered
        again, because its confirmation never reached the transport, is not)."""
        if not messages:
            return set()
        rows = [
            {"source": self._source, "key": key, "payload": payload, "attempts": 0}
            for key, payload in messages
        ]
        async with self._session_factory() as session:
            statement = insert_skipping_duplicates(session, InboundMessageRow, rows)
            if statement is None:
                raise NotImplementedError("the journal needs SQLite or PostgreSQL")
            returned = await session.scalars(statement.returning(InboundMessageRow.key))
            fresh = set(returned.all())
            await session.commit()
        return fresh

    async def unfinished(self, max_attempts: int) -> Unfinished:
        """Messages a previous run received but did not finish, counted as one more attempt.
        Those already attempted `max_attempts` times (each ending in a crash) are closed as
        given up, so one poisonous message cannot crash every start."""
        pending = InboundMessageRow.handled_at.is_(None) & (
            InboundMessageRow.source == self._source
        )
        async with self._session_factory() as session:
            rows = list(
                await session.scalars(
                    select(InboundMessageRow).where(pending).order_by(InboundMessageRow.key)
                )
            )
            resume: list[InboundMessage] = []
            given_up: list[InboundMessage] = []
            for row in rows:
                message = InboundMessage(row.key, row.payload, row.attempts + 1)
                (given_up if row.attempts >= max_attempts else resume).append(message)
            await session.execute(
                update(InboundMessageRow)
                .where(pending)
                .values(attempts=InboundMessageRow.attempts + 1)
            )
            if given_up:
                await self._close(session, [m.key for m in given_up], GIVEN_UP)
            await session.commit()
        return Unfinished(resume, given_up)

    async def mark_handled(self, key: int) -> None:
        async with self._session_factory() as session:
            await self._close(session, [key], HANDLED)
            await session.commit()

    async def forget_handled(self, older_than: timedelta) -> int:
        """Drop handled messages received before `older_than` ago; how many went."""
        cutoff = utcnow() - older_than
        async with self._session_factory() as session:
            result = await session.execute(
                delete(InboundMessageRow).where(
                    (InboundMessageRow.source == self._source)
                    & InboundMessageRow.handled_at.is_not(None)
                    & (InboundMessageRow.received_at < cutoff)
                )
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def _close(self, session: AsyncSession, keys: Sequence[int], outcome: str) -> None:
        await session.execute(
            update(InboundMessageRow)
            .where((InboundMessageRow.source == self._source) & InboundMessageRow.key.in_(keys))
            .values(handled_at=utcnow(), outcome=outcome)
        )
