"""The serving snapshot: the encoder, index, titles and thresholds that answer together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge_base.encoders.base import TextEncoder
from knowledge_base.search.lexical import LexicalIndex
from knowledge_base.search.questions import question_key
from knowledge_base.search.vector_index import VectorIndex
from knowledge_base.types import Band, Match


@dataclass(frozen=True)
class Thresholds:
    answer: float
    suggest: float

    def band(self, score: float) -> Band:
        if score >= self.answer:
            return Band.ANSWER
        if score >= self.suggest:
            return Band.SUGGEST
        return Band.NOTHING


@dataclass(frozen=True)
class ServingSnapshot:
    """Everything that answers a question, replaced only as a whole.

    A question takes the snapshot once and encodes and scores with it, so a model swap can
    never score one model's query vector against another model's index.
    """

    encoder: TextEncoder
    index: VectorIndex
    titles: Mapping[int, str]
    thresholds: Thresholds
    suggestions: int
    # Phrasings by question_key: a question asked word for word as an article's phrasing puts
    # that article first, whatever its other learned phrasings score. A curated phrasing (the
    # admins' word) takes precedence over a learned one: one person's click on another
    # article cannot take over a question the base already answers by name.
    confirmed: Mapping[str, frozenset[int]] = field(default_factory=dict)
    # The lexical channel over the same phrasings, fused into the ranking with this weight
    # (None or 0: dense only). The bands still judge the dense cosine.
    lexical: LexicalIndex | None = None
    lexical_weight: float = 0.0

    @property
    def model_version(self) -> str:
        return self.encoder.version

    def lexical_scores(self, questions: Sequence[str]) -> np.ndarray | None:
        if self.lexical is None or self.lexical_weight <= 0:
            return None
        return self.lexical.scores(questions)

    async def rank(self, question: str, k: int) -> list[Match]:
        vector = await self.encoder.encode_query(question)
        titles = self.titles
        first = self.confirmed.get(question_key(question), frozenset())
        lexical = self.lexical_scores([question])
        top = self.index.top(
            vector, k, first=first, lexical=lexical, lexical_weight=self.lexical_weight
        )
        return [Match(s.article_id, titles[s.article_id], s.score) for s in top]

    def worth_suggesting(self, matches: Iterable[Match]) -> tuple[Match, ...]:
        """The best matches, up to the number offered, that reach the suggest threshold."""
        good = [m for m in matches if m.score >= self.thresholds.suggest]
        return tuple(good[: self.suggestions])
