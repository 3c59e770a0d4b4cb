"""The in-memory vector index: phrasing vectors grouped by article, scored by best phrasing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArticleScore:
    article_id: int
    score: float


class VectorIndex:
    """A normalised float32 matrix whose rows are sorted by article, for per-article maxima."""

    def __init__(self, vectors: np.ndarray, article_ids: Sequence[int]) -> None:
        ids = np.asarray(article_ids, dtype=np.int64)
        if len(ids) != len(vectors):
            raise ValueError("one article id per vector is required")
        order = np.argsort(ids, kind="stable")
        self._matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
        sorted_ids = ids[order]
        if len(sorted_ids):
            starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        self._starts = starts
        self._articles = sorted_ids[starts]

    @classmethod
    def empty(cls, dimension: int) -> VectorIndex:
        return cls(np.zeros((0, dimension), dtype=np.float32), [])

    def __len__(self) -> int:
        return len(self._articles)

    @property
    def phrasing_count(self) -> int:
        return len(self._matrix)

    def article_scores(self, queries: np.ndarray) -> np.ndarray:
        """Best cosine of each article for each query: shape (queries, articles)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if not len(self._articles):
            return np.zeros((len(queries), 0), dtype=np.float32)
        scores = queries @ self._matrix.T
        return np.maximum.reduceat(scores, self._starts, axis=1)

    @property
    def article_ids(self) -> np.ndarray:
        return self._articles

    def top(self, query: np.ndarray, k: int) -> list[ArticleScore]:
        """The k best articles for one normalised query vector, best first."""
        if not len(self._articles) or k <= 0:
            return []
        scores = self.article_scores(query)[0]
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [ArticleScore(int(self._articles[i]), float(scores[i])) for i in best]
