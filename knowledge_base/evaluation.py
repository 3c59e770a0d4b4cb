"""Measures how well the active model ranks articles on a set of (query, gold title) pairs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge_base.io import EvalItem
from knowledge_base.search import SearchEngine

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


def evaluate_vectors(
    engine: SearchEngine, vectors: np.ndarray, gold: Sequence[int], skipped: int
) -> EvalReport:
    index = engine.index
    scores = index.article_scores(vectors)
    ids = index.article_ids
    hits1 = hits3 = 0
    reciprocal = 0.0
    right: list[float] = []
    wrong: list[float] = []
    for row, gold_id in zip(scores, gold, strict=True):
        gold_pos = int(np.flatnonzero(ids == gold_id)[0])
        # Rank = how many articles score strictly higher than the gold one, plus one.
        rank = int((row > row[gold_pos]).sum()) + 1
        hits1 += rank == 1
        hits3 += rank <= 3
        reciprocal += 1.0 / rank if rank <= TOP_K_MRR else 0.0
        (right if rank == 1 else wrong).append(float(row.max()))
    n = len(gold)
    return EvalReport(
        n=n,
        top1=hits1 / n if n else 0.0,
        top3=hits3 / n if n else 0.0,
        mrr10=reciprocal / n if n else 0.0,
        skipped=skipped,
        right_scores=right,
        wrong_scores=wrong,
    )


async def evaluate(engine: SearchEngine, items: Sequence[EvalItem]) -> EvalReport:
    """Rank all active articles for each query; skip queries whose gold title is not active."""
    by_title = {title: article_id for article_id, title in engine.titles.items()}
    usable = [item for item in items if item.title in by_title]
    vectors = await asyncio.to_thread(
        engine.encoder.encode_queries, [item.query for item in usable]
    )
    return evaluate_vectors(
        engine, vectors, [by_title[item.title] for item in usable], len(items) - len(usable)
    )
