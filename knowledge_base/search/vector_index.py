"""The in-memory vector index: phrasing vectors grouped by article, scored per article.

An article is ranked by two channels: its curated phrasings (title, import, admin), scored by
the best one, and its learned phrasings (questions people confirmed), scored by the mean of
the `learned_top_k` best. The learned channel needs several of its phrasings to agree because
an article with a hundred learned questions otherwise wins by chance: the best of a hundred
loose matches beats the best of three, and questions about articles nobody has rated yet are
pulled toward the rated ones. The score that decides the confidence band stays the best
phrasing's cosine, so a question asked again word for word is answered directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from knowledge_base.search.fusion import fuse

# The learned channel scores an article by the mean of its this many best learned phrasings
# (all of them if it has fewer); 1 makes it the best one, as before the guard. Chosen with the
# fairness evaluation in the README.
LEARNED_TOP_K = 5


@dataclass(frozen=True)
class ArticleScore:
    article_id: int
    # Cosine of the article's best phrasing: what the confidence bands judge.
    score: float


@dataclass(frozen=True)
class ArticleScores:
    """For each query (rows) and article (columns, in `VectorIndex.article_ids` order)."""

    ranking: np.ndarray
    best: np.ndarray

    def first_scores(self) -> np.ndarray:
        """Per query: the best-phrasing score of the first-ranked article (what a band judges)."""
        first = self.ranking.argmax(axis=1)
        return np.take_along_axis(self.best, first[:, None], axis=1)[:, 0]


def _segments(ids: np.ndarray) -> np.ndarray:
    """Start of each run of equal values in a sorted array."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])


class VectorIndex:
    """A normalised float32 matrix whose rows are sorted by article, for per-article scores."""

    def __init__(
        self,
        vectors: np.ndarray,
        article_ids: Sequence[int],
        learned: Sequence[bool] | None = None,
        learned_top_k: int = 1,
    ) -> None:
        ids = np.asarray(article_ids, dtype=np.int64)
        if len(ids) != len(vectors):
            raise ValueError("one article id per vector is required")
        flags = np.zeros(len(ids), dtype=bool) if learned is None else np.asarray(learned, bool)
        if len(flags) != len(ids):
            raise ValueError("one learned flag per vector is required")
        if learned_top_k < 1:
            raise ValueError("learned_top_k must be at least 1")
        self.learned_top_k = learned_top_k
        # Curated rows first, then learned, each sorted by article.
        order = np.lexsort((ids, flags))
        self._order = order
        self._matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
        sorted_ids, sorted_flags = ids[order], flags[order]
        self._articles = np.unique(sorted_ids)
        curated = int((~sorted_flags).sum())
        self._curated = curated
        self._curated_starts = _segments(sorted_ids[:curated])
        self._curated_columns = np.searchsorted(
            self._articles, sorted_ids[:curated][self._curated_starts]
        )
        learned_ids = sorted_ids[curated:]
        self._learned_starts = _segments(learned_ids)
        self._learned_columns = np.searchsorted(self._articles, learned_ids[self._learned_starts])
        counts = np.diff(np.r_[self._learned_starts, len(learned_ids)])
        self._learned_divisor = np.minimum(counts, learned_top_k).astype(np.float32)
        # Position of each learned row within its article's run: keeps the k best after a sort.
        segment_of_row = np.repeat(np.arange(len(counts)), counts)
        self._learned_rank = np.arange(len(learned_ids)) - self._learned_starts[segment_of_row]
        self._learned_segment = segment_of_row

    @classmethod
    def empty(cls, dimension: int) -> VectorIndex:
        return cls(np.zeros((0, dimension), dtype=np.float32), [])

    def __len__(self) -> int:
        return len(self._articles)

    @property
    def phrasing_count(self) -> int:
        return len(self._matrix)

    @property
    def learned_count(self) -> int:
        return len(self._matrix) - self._curated

    @property
    def article_ids(self) -> np.ndarray:
        return self._articles

    def scores(
        self, queries: np.ndarray, lexical: np.ndarray | None = None, lexical_weight: float = 0.0
    ) -> ArticleScores:
        """Ranking and best-phrasing scores of each article for each query. With `lexical`
        (LexicalIndex scores: one column per phrasing, in the order the index was given them),
        the ranking fuses the two channels; the lexical scores go through the same curated /
        learned channels as the dense ones, so the fairness guard holds for both."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if not len(self._articles):
            empty = np.zeros((len(queries), 0), dtype=np.float32)
            return ArticleScores(empty, empty)
        found = self._channels(queries @ self._matrix.T)
        if lexical is None or lexical_weight <= 0:
            return found
        if lexical.shape != (len(queries), len(self._matrix)):
            raise ValueError("lexical scores must cover the same queries and phrasings")
        words = self._channels(np.asarray(lexical, dtype=np.float32)[:, self._order])
        return ArticleScores(fuse(found.ranking, words.ranking, lexical_weight), found.best)

    def _channels(self, cosines: np.ndarray) -> ArticleScores:
        """Per article, from per-phrasing scores in the index's own row order: the ranking
        (best curated, or mean of the k best learned) and the best phrasing's score."""
        shape = (len(cosines), len(self._articles))
        curated = np.full(shape, -np.inf, dtype=np.float32)
        learned = np.full(shape, -np.inf, dtype=np.float32)
        learned_best = np.full(shape, -np.inf, dtype=np.float32)
        if self._curated:
            curated[:, self._curated_columns] = np.maximum.reduceat(
                cosines[:, : self._curated], self._curated_starts, axis=1
            )
        if self.learned_count:
            rows = cosines[:, self._curated :]
            learned_best[:, self._learned_columns] = np.maximum.reduceat(
                rows, self._learned_starts, axis=1
            )
            if self.learned_top_k == 1:
                learned = learned_best
            else:
                # Sort each article's run best first (runs stay in place: the key sorts by
                # run, then by score), then average the first k of each run.
                key = self._learned_segment[None, :] * 4.0 - rows
                ordered = np.take_along_axis(rows, np.argsort(key, axis=1), axis=1)
                kept = np.where(self._learned_rank < self.learned_top_k, ordered, 0.0)
                sums = np.add.reduceat(kept, self._learned_starts, axis=1)
                learned[:, self._learned_columns] = sums / self._learned_divisor
        return ArticleScores(np.maximum(curated, learned), np.maximum(curated, learned_best))

    def top(
        self,
        query: np.ndarray,
        k: int,
        first: Collection[int] = (),
        lexical: np.ndarray | None = None,
        lexical_weight: float = 0.0,
    ) -> list[ArticleScore]:
        """The k first-ranked articles for one normalised query vector, best first; the
        articles in `first` (those the question was confirmed for) before all others."""
        if not len(self._articles) or k <= 0:
            return []
        scores = self.scores(query, lexical, lexical_weight)
        ranking, best_scores = scores.ranking[0], scores.best[0]
        order = ranking
        if first:
            columns = np.searchsorted(self._articles, np.fromiter(first, dtype=np.int64))
            columns = columns[columns < len(self._articles)]
            columns = columns[np.isin(self._articles[columns], list(first))]
            order = ranking.copy()
            order[columns] += 4.0  # above any ranking score (cosines and fused scores ≤ 1)
        k = min(k, len(order))
        best = np.argpartition(-order, k - 1)[:k]
        best = best[np.argsort(-order[best], kind="stable")]
        return [ArticleScore(int(self._articles[i]), float(best_scores[i])) for i in best]
