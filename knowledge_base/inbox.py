"""The admins' inbox: questions the base could not answer, grouped by meaning."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.search.service import Match, SearchEngine
from knowledge_base.storage.tables import FeedbackRow, InboxResolutionRow, QueryRow

# Questions whose embeddings are at least this close (cosine, to the group's first question)
# form one group. Measured for multilingual-e5-small, whose unrelated Russian sentences score
# about 0.85: paraphrases of one question score above 0.9.
GROUP_THRESHOLD = 0.9


@dataclass(frozen=True)
class OpenQuestion:
    query_id: int
    user_id: int | None
    text: str
    asked_at: datetime
    # Why it is here: nothing (no answer), none_fit («Нет подходящего»), not_helpful (👎).
    reason: str


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


async def open_questions(session: AsyncSession) -> list[OpenQuestion]:
    """Questions answered "don't know", «Нет подходящего», and 👎 not followed by a pick on
    the same question; minus those already attached or dismissed."""
    resolved = exists().where(InboxResolutionRow.query_id == QueryRow.id)
    none_fit = exists().where(
        and_(
            FeedbackRow.query_id == QueryRow.id,
            FeedbackRow.article_id.is_(None),
            FeedbackRow.label == -1,
        )
    )
    not_helpful = exists().where(
        and_(
            FeedbackRow.query_id == QueryRow.id,
            FeedbackRow.article_id.is_not(None),
            FeedbackRow.label == -1,
        )
    )
    found_later = exists().where(and_(FeedbackRow.query_id == QueryRow.id, FeedbackRow.label == 1))
    rows = await session.execute(
        select(
            QueryRow.id,
            QueryRow.user_id,
            QueryRow.text,
            QueryRow.created_at,
            QueryRow.band,
            none_fit.label("none_fit"),
            not_helpful.label("not_helpful"),
        )
        .where(~resolved)
        .where(
            (QueryRow.band == "nothing") | (none_fit & ~found_later) | (not_helpful & ~found_later)
        )
        .order_by(QueryRow.id)
    )
    questions = []
    for row in rows:
        reason = "none_fit" if row.none_fit else "not_helpful" if row.not_helpful else "nothing"
        questions.append(OpenQuestion(row.id, row.user_id, row.text, row.created_at, reason))
    return questions


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
