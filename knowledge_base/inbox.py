"""The admins' inbox: questions the base could not answer, grouped by meaning, and closed by
attaching them to an article or dismissing them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.audit import Actor
from knowledge_base.search.engine import SearchEngine
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.engine import read_only
from knowledge_base.storage.inbox import InboxRepository
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import (
    AuditAction,
    InboxResolution,
    Match,
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
        return await group_questions(self._engine, await self.open_questions())

    async def attach(self, query_ids: Sequence[int], article_id: int) -> Attached:
        """The group's questions become phrasings of the article and leave the inbox."""
        self._actor.check("attach")
        article = await self._articles.get(article_id)
        if article is None or article.archived:
            await self._session.rollback()
            return Attached(0, [])
        told: dict[int, tuple[int, int, str]] = {}
        texts: list[str] = []
        for query_id in query_ids:
            record = await self._queries.get(query_id)
            if record is None or not await self._inbox.resolve(
                query_id, InboxResolution.ATTACHED, article_id, self._actor.id
            ):
                continue
            await self._articles.add_phrasing(article_id, record.text, PhrasingSource.FEEDBACK)
            # Offered now: the person may rate it when it reaches them.
            await self._queries.add_offers(query_id, [article_id])
            texts.append(record.text)
            if record.user_id is not None and record.user_id not in told:
                told[record.user_id] = (record.user_id, query_id, record.text)
        if not texts:
            await self._session.rollback()
            return Attached(0, [])
        await self._audit.add(self._actor.id, AuditAction.ATTACH, article_id, "", "\n".join(texts))
        await self._session.commit()
        log.info(
            "admin %s: attached %d questions to article %s", self._actor.id, len(texts), article_id
        )
        return Attached(len(texts), list(told.values()))

    async def dismiss(self, query_ids: Sequence[int]) -> int:
        """Close questions as out of scope; how many were still open."""
        self._actor.check("dismiss")
        closed = [
            q
            for q in query_ids
            if await self._inbox.resolve(q, InboxResolution.DISMISSED, None, self._actor.id)
        ]
        if not closed:
            await self._session.rollback()
            return 0
        await self._audit.add(self._actor.id, AuditAction.DISMISS, None, "", f"{len(closed)}")
        await self._session.commit()
        return len(closed)


async def group_questions(
    engine: SearchEngine, questions: Sequence[OpenQuestion], threshold: float = GROUP_THRESHOLD
) -> list[QuestionGroup]:
    """Groups of questions with close embeddings, largest first, each with the existing
    article closest to its first question (what an admin would attach it to)."""
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
        ranked = await snapshot.rank(group.questions[0].text, 1)
        group.closest = ranked[0] if ranked else None
    return groups
