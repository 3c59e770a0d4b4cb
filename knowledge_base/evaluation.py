"""Measures how well the active model ranks articles on a set of (query, gold title) pairs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge_base.io import EvalItem
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.vector_index import VectorIndex

TOP_K_MRR = 10


@dataclass(frozen=True)
class ScoreSummary:
    count: int
    mean: float
    quantiles: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalReport:
    n: int
    top1: float
    top3: float
    mrr10: float
    skipped: int
    # First-answer scores, split by whether the first article was the gold one.
    right_scores: list[float]
    wrong_scores: list[float]
    # Best scores of questions the base has no answer for (if a set of them was given): the
    # share of them above a threshold is how often the bot would answer off-topic questions.
    negative_scores: list[float] = field(default_factory=list)
    # Best score of each question when its own article is left out: what a question about
    # something the base lacks scores. Unlike `negative_scores` it needs no extra set.
    without_gold_scores: list[float] = field(default_factory=list)
    # Rank of the gold article for each evaluated query, in order: for top-1 of a subset.
    ranks: list[int] = field(default_factory=list)
    # Gold article of each evaluated query, in order.
    gold: list[int] = field(default_factory=list)

    def top1_of(self, articles: set[int]) -> tuple[float, int]:
        """Top-1 over the queries whose gold article is in `articles`, and their count."""
        hits = [
            rank == 1 for rank, gold in zip(self.ranks, self.gold, strict=True) if gold in articles
        ]
        return (sum(hits) / len(hits) if hits else 0.0), len(hits)

    def summary(self, scores: Sequence[float]) -> ScoreSummary:
        if not scores:
            return ScoreSummary(0, 0.0)
        values = np.asarray(scores)
        points = (5, 10, 25, 50, 75, 90, 95)
        return ScoreSummary(
            len(values),
            float(values.mean()),
            {f"p{p}": float(np.percentile(values, p)) for p in points},
        )

    def threshold_table(self, step: float = 0.01) -> list[ThresholdRow]:
        """For each threshold on a grid: what passes it, and how much of that is right."""
        first = np.asarray(self.right_scores + self.wrong_scores)
        if not len(first):
            return []
        right = np.asarray(self.right_scores)
        negatives = np.asarray(self.negative_scores)
        low = np.floor(np.percentile(first, 5) / step) * step
        rows = []
        for threshold in np.arange(low, first.max() + step, step):
            passed = int((first >= threshold).sum())
            hits = int((right >= threshold).sum())
            rows.append(
                ThresholdRow(
                    threshold=round(float(threshold), 4),
                    passed=passed,
                    right=hits,
                    precision=hits / passed if passed else 1.0,
                    negatives_passed=(
                        float((negatives >= threshold).mean()) if len(negatives) else None
                    ),
                )
            )
        return rows


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    passed: int
    right: int
    precision: float
    negatives_passed: float | None


def evaluate_vectors(
    index: VectorIndex,
    vectors: np.ndarray,
    gold: Sequence[int],
    skipped: int,
    *,
    negative_vectors: np.ndarray | None = None,
    lexical: np.ndarray | None = None,
    lexical_weight: float = 0.0,
    negative_lexical: np.ndarray | None = None,
) -> EvalReport:
    """Rank every article of `index` for each query vector, as the bot does (with the
    lexical channel's scores of the same queries, when given)."""
    scores = index.scores(vectors, lexical, lexical_weight)
    ranking = scores.ranking
    ids = index.article_ids
    hits1 = hits3 = 0
    reciprocal = 0.0
    right: list[float] = []
    wrong: list[float] = []
    without_gold: list[float] = []
    ranks: list[int] = []
    first_scores = scores.first_scores() if len(ids) else np.zeros(len(gold))
    for row, (order, gold_id) in enumerate(zip(ranking, gold, strict=True)):
        gold_pos = int(np.flatnonzero(ids == gold_id)[0])
        # Rank = how many articles rank strictly higher than the gold one, plus one.
        rank = int((order > order[gold_pos]).sum()) + 1
        ranks.append(rank)
        hits1 += rank == 1
        hits3 += rank <= 3
        reciprocal += 1.0 / rank if rank <= TOP_K_MRR else 0.0
        # The score the bands would judge: the best phrasing of the first-ranked article.
        (right if rank == 1 else wrong).append(float(first_scores[row]))
        if len(order) > 1:
            others = np.delete(order, gold_pos)
            other_best = np.delete(scores.best[row], gold_pos)
            without_gold.append(float(other_best[int(others.argmax())]))
    n = len(gold)
    return EvalReport(
        n=n,
        top1=hits1 / n if n else 0.0,
        top3=hits3 / n if n else 0.0,
        mrr10=reciprocal / n if n else 0.0,
        skipped=skipped,
        right_scores=right,
        wrong_scores=wrong,
        negative_scores=(
            index.scores(negative_vectors, negative_lexical, lexical_weight).first_scores().tolist()
            if negative_vectors is not None and len(negative_vectors) and len(ids)
            else []
        ),
        without_gold_scores=without_gold,
        ranks=ranks,
        gold=[int(g) for g in gold],
    )


async def evaluate(
    engine: SearchEngine, items: Sequence[EvalItem], negatives: Sequence[str] = ()
) -> EvalReport:
    """Rank all active articles for each query; skip queries whose gold title is not active.

    `negatives` are questions the base cannot answer; only their best score is kept.
    """
    snapshot = engine.snapshot
    by_title = {title: article_id for article_id, title in snapshot.titles.items()}
    usable = [item for item in items if item.title in by_title]
    encode = snapshot.encoder.encode_queries
    vectors = await asyncio.to_thread(encode, [item.query for item in usable])
    negative_vectors = await asyncio.to_thread(encode, list(negatives)) if negatives else None
    return evaluate_vectors(
        snapshot.index,
        vectors,
        [by_title[item.title] for item in usable],
        len(items) - len(usable),
        negative_vectors=negative_vectors,
        lexical=snapshot.lexical_scores([item.query for item in usable]),
        lexical_weight=snapshot.lexical_weight,
        negative_lexical=snapshot.lexical_scores(list(negatives)) if negatives else None,
    )


# Below this many held-out questions a threshold would be chosen by a handful of scores.
MIN_QUESTIONS_FOR_THRESHOLDS = 10
# A suggestion costs one click, so the suggest threshold keeps this share of right answers.
SUGGEST_KEEPS_RIGHT = 0.85
# At most this share of questions whose article is missing may be answered directly.
UNANSWERABLE_MAY_PASS = 0.10


def choose_thresholds(report: EvalReport, precision_target: float) -> tuple[float, float] | None:
    """Answer and suggest thresholds from the scores of right and wrong first answers.

    answer: the lowest score at which at least `precision_target` of the first answers that
    pass are right (above every score, so never a direct answer, if no score gets there), and
    which at most UNANSWERABLE_MAY_PASS of the questions reach when their own article is left
    out, so a question the base cannot answer still gets "don't know" or suggestions;
    suggest: the highest score that still keeps SUGGEST_KEEPS_RIGHT of the right first answers,
    never above answer. None when there are too few questions to choose from.
    """
    right = np.asarray(report.right_scores, dtype=np.float64)
    wrong = np.asarray(report.wrong_scores, dtype=np.float64)
    if len(right) + len(wrong) < MIN_QUESTIONS_FOR_THRESHOLDS or not len(right):
        return None
    candidates = np.unique(np.concatenate([right, wrong]))
    answer = None
    for threshold in candidates:
        passed = int((right >= threshold).sum() + (wrong >= threshold).sum())
        if passed and (right >= threshold).sum() / passed >= precision_target:
            answer = float(threshold)
            break
    if answer is None:
        answer = min(1.0, float(candidates.max()) + 0.001)
    if report.without_gold_scores:
        missing = np.sort(np.asarray(report.without_gold_scores, dtype=np.float64))
        allowed = int(np.floor(UNANSWERABLE_MAY_PASS * len(missing)))
        # Just above the score of the (allowed + 1)-th best: no more than `allowed` pass.
        answer = max(answer, min(1.0, float(missing[len(missing) - allowed - 1]) + 1e-4))
    kept = np.sort(right)[::-1][: int(np.ceil(SUGGEST_KEEPS_RIGHT * len(right)))]
    suggest = min(answer, float(kept.min()))
    return _floor(answer), _floor(suggest)


def _floor(value: float) -> float:
    # Rounded down, so every score that passed the exact threshold passes the stored one.
    return float(np.floor(value * 10_000) / 10_000)
