"""The admins' inbox: questions the base could not answer, grouped by meaning, and closed by
attaching them to an article or dismissing them."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.audit import Actor
from knowledge_base.search.engine import SearchEngine
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.engine import read_only
from knowledge_base.storage.inbox import InboxNoticeRepository, InboxRepository
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import (
    Article,
    AuditAction,
    InboxResolution,
    Match,
    NoticeStatus,
    OpenQuestion,
    PhrasingSource,
)

log = logging.getLogger(__name__)

# A question joins the closest group if its embedding is at least this close (cosine) to the
# group's centroid, the normalised mean of its questions' embeddings; else it starts a group.
# Measured for multilingual-e5-small, whose unrelated Russian sentences score about 0.85:
# paraphrases of one question score above 0.9.
GROUP_THRESHOLD = 0.9


@dataclass
class QuestionGroup:
    questions: list[OpenQuestion]
    closest: Match | None = None
    # Whether the closest article scores as the bot's own answers do (else a guess).
    confident: bool = False
    # Whether it scores below what the bot would even suggest: no article fits.
    weak: bool = False
    # The title of an article someone in the group rated 👎 (never offered as the closest).
    rejected: str | None = None
    centroid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    @property
    def size(self) -> int:
        return len(self.questions)

    @property
    def askers(self) -> set[int]:
        return {q.user_id for q in self.questions if q.user_id is not None}


@dataclass(frozen=True)
class Attached:
    """What attaching a group did: how many questions became phrasings, and the people to
    tell, one question each: (user, query, question)."""

    count: int
    people: list[tuple[int, int, str]]
    # The notice that tells them once the undo period is over (None: tell them now).
    notice_id: int | None = None


@dataclass(frozen=True)
class Dismissed:
    """What dismissing a group did: how many questions closed, and each person who asked
    (user, their first question), to tell if the admin wants to."""

    count: int
    people: list[tuple[int, str]]


@dataclass(frozen=True)
class Detached:
    """An attachment undone: the article's title and how many questions are open again."""

    title: str
    count: int


async def open_questions(session: AsyncSession) -> list[OpenQuestion]:
    """Questions answered "don't know", «Нет подходящего», and 👎 not followed by a pick on
    the same question; minus those already attached or dismissed. A read."""
    async with read_only(session):
        return await InboxRepository(session).open_questions()


class InboxService:
    """The admins' inbox use cases; each change is one transaction with its audit record."""

    def __init__(self, session: AsyncSession, actor: Actor, engine: SearchEngine) -> None:
        self._session = session
        self._actor = actor
        self._engine = engine
        self._inbox = InboxRepository(session)
        self._articles = ArticleRepository(session)
        self._queries = QueryRepository(session)
        self._audit = AuditRepository(session)

    async def open_questions(self) -> list[OpenQuestion]:
        self._actor.check("inbox")
        return await open_questions(self._session)

    async def groups(self) -> list[QuestionGroup]:
        """The open questions grouped by meaning, largest first, each with its closest
        article."""
        questions = await self.open_questions()
        async with read_only(self._session):
            rejected = await self._inbox.rejected([q.query_id for q in questions])
        return await group_questions(self._engine, questions, rejected=rejected)

    async def still_open(self, query_ids: Sequence[int]) -> list[int]:
        """Those of the questions nobody attached or dismissed yet. A read."""
        self._actor.check("inbox")
        async with read_only(self._session):
            return await self._inbox.still_open(query_ids)

    async def remember_confirmation(self, notice_id: int, chat_id: int, message_id: int) -> None:
        """Where the admin's «Отменить» is, to edit it once the people are told."""
        self._actor.check("attach")
        await InboxNoticeRepository(self._session).remember_confirmation(
            notice_id, chat_id, message_id
        )
        await self._session.commit()

    async def attach(
        self, query_ids: Sequence[int], article_id: int, notify_at: datetime | None = None
    ) -> Attached:
        """The group's questions become phrasings of the article and leave the inbox. With
        `notify_at`, the people to tell are kept in the same transaction as a notice sent at
        that time (unless undone before)."""
        self._actor.check("attach")
        article = await self._articles.get(article_id)
        if article is None or article.archived:
            await self._session.rollback()
            return Attached(0, [])
        told: dict[int, tuple[int, int, str]] = {}
        texts: list[str] = []
        added: list[str] = []
        attached: list[int] = []
        for query_id in query_ids:
            record = await self._queries.get(query_id)
            if record is None or not await self._inbox.resolve(
                query_id, InboxResolution.ATTACHED, article_id, self._actor.id
            ):
                continue
            if await self._articles.add_phrasing(article_id, record.text, PhrasingSource.FEEDBACK):
                added.append(record.text)
            attached.append(query_id)
            # Offered now: the person may rate it when it reaches them.
            await self._queries.add_offers(query_id, [article_id])
            texts.append(record.text)
            if record.user_id is not None and record.user_id not in told:
                told[record.user_id] = (record.user_id, query_id, record.text)
        if not texts:
            await self._session.rollback()
            return Attached(0, [])
        await self._audit.add(
            self._actor.id,
            AuditAction.ATTACH,
            article_id,
            "",
            "\n".join(texts),
            **self._actor.audit_name,
        )
        people = list(told.values())
        notice_id = None
        if notify_at is not None:
            notice_id = await InboxNoticeRepository(self._session).add(
                article_id, self._actor.id, attached, added, people, notify_at
            )
        await self._session.commit()
        log.info(
            "admin %s: attached %d questions to article %s", self._actor.id, len(texts), article_id
        )
        return Attached(len(texts), people, notice_id)

    async def detach(self, notice_id: int) -> Detached | None:
        """Undo an attachment whose people were not told yet: the questions are open again,
        the phrasings it taught are gone, and nobody is told. None when it is too late (sent),
        done already, or unknown."""
        self._actor.check("detach")
        notices = InboxNoticeRepository(self._session)
        notice = await notices.get(notice_id)
        if notice is None or not await notices.take(notice_id, NoticeStatus.CANCELLED, None):
            await self._session.rollback()
            return None
        reopened = await self._inbox.reopen(notice.query_ids, notice.article_id)
        await self._inbox.remove_learned(notice.article_id, notice.phrasings)
        article = await self._articles.get(notice.article_id)
        await self._audit.add(
            self._actor.id,
            AuditAction.DETACH,
            notice.article_id,
            "",
            json.dumps({"questions": await self._texts(notice.query_ids)}, ensure_ascii=False),
            **self._actor.audit_name,
        )
        await self._session.commit()
        log.info("admin %s: undid attachment %s", self._actor.id, notice_id)
        return Detached(article.title if article else "", reopened)

    async def dismiss(self, query_ids: Sequence[int], *, tell: bool | None = None) -> Dismissed:
        """Close questions as out of scope: how many were still open, and who asked them.
        `tell`: whether the admin chose to tell the people (kept in the audit record)."""
        self._actor.check("dismiss")
        people: dict[int, str] = {}
        texts: list[str] = []
        closed = 0
        for query_id in query_ids:
            if not await self._inbox.resolve(
                query_id, InboxResolution.DISMISSED, None, self._actor.id
            ):
                continue
            closed += 1
            record = await self._queries.get(query_id)
            if record is not None:
                texts.append(record.text)
            if record is not None and record.user_id is not None:
                people.setdefault(record.user_id, record.text)
        if not closed:
            await self._session.rollback()
            return Dismissed(0, [])
        # The questions and whether people were told, as the audit trail shows them.
        after = json.dumps({"questions": texts, "told": tell}, ensure_ascii=False)
        await self._audit.add(
            self._actor.id, AuditAction.DISMISS, None, "", after, **self._actor.audit_name
        )
        await self._session.commit()
        return Dismissed(closed, list(people.items()))

    async def _texts(self, query_ids: Sequence[int]) -> list[str]:
        """The questions' texts, for an audit record."""
        records = [await self._queries.get(query_id) for query_id in query_ids]
        return [record.text for record in records if record is not None]


class InboxNotices:
    """The notices of attached groups, sent once their undo period is over. Each is marked
    sent (committed) before anyone is messaged: a crash can cost a notice, never repeat it,
    and of several processes only the one whose UPDATE took it sends."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def due(self, now: datetime) -> list[int]:
        async with self._session_factory() as session, read_only(session):
            return await InboxNoticeRepository(session).due(now)

    async def claim(
        self, notice_id: int, now: datetime
    ) -> tuple[Article | None, list[tuple[int, int, str]]] | None:
        """Mark a due notice sent; its article (None if gone meanwhile) and the people to
        tell, or None if another process took it or it was undone."""
        async with self._session_factory() as session:
            notices = InboxNoticeRepository(session)
            if not await notices.take(notice_id, NoticeStatus.SENT, now):
                await session.rollback()
                return None
            notice = await notices.get(notice_id)
            await session.commit()
            if notice is None:
                return None
            article = await ArticleRepository(session).get(notice.article_id)
            if article is not None and article.archived:
                article = None
            return article, list(notice.people)

    async def confirmation(self, notice_id: int) -> tuple[int, int, int] | None:
        """The admin's confirmation of a notice: (chat, message, questions attached), or None
        if it was never recorded."""
        async with self._session_factory() as session, read_only(session):
            notice = await InboxNoticeRepository(session).get(notice_id)
        if notice is None or notice.confirmation is None:
            return None
        chat_id, message_id = notice.confirmation
        return chat_id, message_id, len(notice.query_ids)


async def group_questions(
    engine: SearchEngine,
    questions: Sequence[OpenQuestion],
    threshold: float = GROUP_THRESHOLD,
    *,
    rejected: Mapping[int, Sequence[tuple[int, str]]] | None = None,
) -> list[QuestionGroup]:
    """Groups of questions with close embeddings, largest first, each with the existing
    article closest to its first question (what an admin would attach it to), leaving out
    the articles its askers rated 👎 (`rejected`: query id → (article id, title))."""
    rejected = rejected or {}
    if not questions:
        return []
    snapshot = engine.snapshot
    vectors = await asyncio.to_thread(snapshot.encoder.encode_queries, [q.text for q in questions])
    groups: list[QuestionGroup] = []
    for question, vector in zip(questions, vectors, strict=True):
        best = max(groups, key=lambda g: float(g.centroid @ vector), default=None)
        if best is not None and float(best.centroid @ vector) >= threshold:
            best.questions.append(question)
            total = best.centroid * (best.size - 1) + vector
            best.centroid = total / np.linalg.norm(total)
        else:
            groups.append(QuestionGroup([question], centroid=np.asarray(vector, np.float32)))
    groups.sort(key=lambda g: (-g.size, g.questions[0].query_id))
    for group in groups:
        refused = [a for q in group.questions for a in rejected.get(q.query_id, ())]
        ranked = await snapshot.rank(group.questions[0].text, 1 + len(refused))
        refused_ids = {article_id for article_id, _ in refused}
        kept = [m for m in ranked if m.article_id not in refused_ids]
        group.closest = kept[0] if kept else None
        group.rejected = refused[0][1] if refused else None
        if group.closest is not None:
            group.confident = group.closest.score >= snapshot.thresholds.answer
            group.weak = group.closest.score < snapshot.thresholds.suggest
    return groups
