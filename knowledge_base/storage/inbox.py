"""The admins' inbox: questions still open, and how each one was closed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import (
    ArticleRow,
    FeedbackRow,
    InboxNoticeRow,
    InboxResolutionRow,
    PhrasingRow,
    QueryRow,
)
from knowledge_base.types import (
    Band,
    InboxReason,
    InboxResolution,
    Label,
    NoticeStatus,
    OpenQuestion,
    PhrasingSource,
)


@dataclass(frozen=True)
class Notice:
    """An attached group's notice: its questions, what it taught the article, whom to tell."""

    id: int
    article_id: int
    actor_id: int | None
    query_ids: tuple[int, ...]
    phrasings: tuple[str, ...]
    people: tuple[tuple[int, int, str], ...]
    status: NoticeStatus
    # The admin's confirmation (chat, message) with «Отменить»; None if never recorded.
    confirmation: tuple[int, int] | None = None


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

    async def still_open(self, query_ids: Sequence[int]) -> list[int]:
        """Those of the questions neither attached nor dismissed yet."""
        closed = set(
            await self._session.scalars(
                select(InboxResolutionRow.query_id).where(
                    InboxResolutionRow.query_id.in_(list(query_ids))
                )
            )
        )
        return [q for q in query_ids if q not in closed]

    async def rejected(self, query_ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
        """For each question, the articles (id, title) its asker rated 👎, oldest first."""
        rows = await self._session.execute(
            select(FeedbackRow.query_id, ArticleRow.id, ArticleRow.title)
            .join(ArticleRow, ArticleRow.id == FeedbackRow.article_id)
            .where(
                FeedbackRow.query_id.in_(list(query_ids)),
                FeedbackRow.label == Label.NOT_HELPFUL,
            )
            .order_by(FeedbackRow.id)
        )
        found: dict[int, list[tuple[int, str]]] = {}
        for query_id, article_id, title in rows:
            if (article_id, title) not in found.setdefault(query_id, []):
                found[query_id].append((article_id, title))
        return found

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

    async def reopen(self, query_ids: Sequence[int], article_id: int) -> int:
        """Put questions attached to the article back into the inbox; how many were."""
        result = await self._session.execute(
            delete(InboxResolutionRow).where(
                InboxResolutionRow.query_id.in_(list(query_ids)),
                InboxResolutionRow.article_id == article_id,
                InboxResolutionRow.status == InboxResolution.ATTACHED,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def remove_learned(self, article_id: int, texts: Sequence[str]) -> None:
        """Take back phrasings an attachment added (never the title's or an admin's)."""
        await self._session.execute(
            delete(PhrasingRow).where(
                PhrasingRow.article_id == article_id,
                PhrasingRow.text.in_(list(texts)),
                PhrasingRow.source == PhrasingSource.FEEDBACK,
            )
        )


class InboxNoticeRepository:
    """Notices to the people whose questions were attached, waiting out the undo period. The
    status changes only by a conditional UPDATE: the database decides, once, whether a notice
    is sent or undone, however many processes try."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        article_id: int,
        actor_id: int,
        query_ids: Sequence[int],
        phrasings: Sequence[str],
        people: Sequence[tuple[int, int, str]],
        due_at: datetime,
    ) -> int:
        row = InboxNoticeRow(
            article_id=article_id,
            actor_id=actor_id,
            query_ids=json.dumps(list(query_ids)),
            phrasings=json.dumps(list(phrasings), ensure_ascii=False),
            people=json.dumps([list(p) for p in people], ensure_ascii=False),
            status=NoticeStatus.PENDING,
            due_at=due_at,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def due(self, now: datetime) -> list[int]:
        """Pending notices whose undo period is over, oldest first."""
        rows = await self._session.scalars(
            select(InboxNoticeRow.id)
            .where(InboxNoticeRow.status == NoticeStatus.PENDING, InboxNoticeRow.due_at <= now)
            .order_by(InboxNoticeRow.id)
        )
        return list(rows)

    async def take(self, notice_id: int, status: NoticeStatus, now: datetime | None) -> bool:
        """Move a pending notice to `status` (sent: only once due); False if another process
        or an earlier press did first, or it is not due."""
        condition = [InboxNoticeRow.id == notice_id, InboxNoticeRow.status == NoticeStatus.PENDING]
        if now is not None:
            condition.append(InboxNoticeRow.due_at <= now)
        result = await self._session.execute(
            update(InboxNoticeRow).where(*condition).values(status=status)
        )
        return bool(getattr(result, "rowcount", 0))

    async def remember_confirmation(self, notice_id: int, chat_id: int, message_id: int) -> None:
        await self._session.execute(
            update(InboxNoticeRow)
            .where(InboxNoticeRow.id == notice_id)
            .values(confirm_chat_id=chat_id, confirm_message_id=message_id)
        )

    async def get(self, notice_id: int) -> Notice | None:
        row = await self._session.get(InboxNoticeRow, notice_id)
        if row is None:
            return None
        return Notice(
            id=row.id,
            article_id=row.article_id,
            actor_id=row.actor_id,
            query_ids=tuple(int(q) for q in json.loads(row.query_ids)),
            phrasings=tuple(str(t) for t in json.loads(row.phrasings)),
            people=tuple((int(u), int(q), str(t)) for u, q, t in json.loads(row.people)),
            status=NoticeStatus(row.status),
            confirmation=(row.confirm_chat_id, row.confirm_message_id)
            if row.confirm_chat_id is not None and row.confirm_message_id is not None
            else None,
        )
