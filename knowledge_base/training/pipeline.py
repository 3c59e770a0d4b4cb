"""One retraining: data → held-out split → fine-tune → old vs new → thresholds → register."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.encoders.base import (
    Encoder,
    model_version,
    recommended_lexical_weight,
    recommended_thresholds,
)
from knowledge_base.encoders.base_models import write_recommendations
from knowledge_base.encoders.onnx_encoder import export_onnx
from knowledge_base.evaluation import EvalReport, choose_thresholds, evaluate_vectors
from knowledge_base.io import EvalItem
from knowledge_base.search.lexical import LEXICAL_WEIGHT, LexicalIndex
from knowledge_base.search.service import phrasing_index, phrasing_vectors
from knowledge_base.search.vector_index import LEARNED_TOP_K
from knowledge_base.storage.repositories import (
    TITLE_SOURCE,
    ArticleRepository,
    EmbeddingRepository,
    ModelVersion,
    Phrasing,
)
from knowledge_base.training.dataset import (
    PHRASING,
    USER_SOURCES,
    Split,
    TrainingSet,
    build_training_set,
    normalize,
    pairs_from_items,
    split_held_out,
    split_with_test_set,
)
from knowledge_base.training.finetune import FineTuneReport, Hyperparameters, TrainingRow, fine_tune
from knowledge_base.training.registry import (
    INCOMPLETE_PREFIX,
    UNREGISTERED_MARKER,
    ActiveModel,
    ModelRegistry,
    remove_abandoned_versions,
    version_name,
)

log = logging.getLogger(__name__)


class TrainingRefused(RuntimeError):
    """Training cannot start (too little data, another training running); says why."""


@dataclass(frozen=True)
class TrainingOptions:
    hyper: Hyperparameters
    held_out_share: float = 0.2
    min_pairs: int = 20
    # The new model may be this much worse on top-1 and MRR@10 and still be promoted.
    promotion_margin: float = 0.0
    precision_target: float = 0.9
    threads: int = 1
    progress: bool = True
    # Score the held-out questions as the bot does (see SearchSettings.learned_top_k).
    learned_top_k: int = LEARNED_TOP_K
    # ... and with the lexical channel the bot fuses in: SEARCH__LEXICAL_WEIGHT when set;
    # None: the new model's own recommendation, chosen here on the held-out questions.
    lexical_weight: float | None = None


@dataclass(frozen=True)
class Metrics:
    n: int
    top1: float
    top3: float
    mrr10: float

    @classmethod
    def of(cls, report: EvalReport) -> Metrics:
        return cls(report.n, round(report.top1, 4), round(report.top3, 4), round(report.mrr10, 4))


@dataclass(frozen=True)
class TrainingOutcome:
    version: ModelVersion
    parent: str
    promoted: bool
    reason: str
    before: Metrics
    after: Metrics
    thresholds: dict[str, float]
    metrics: dict[str, Any]


async def train_new_version(
    session_factory: async_sessionmaker[AsyncSession],
    models_dir: Path,
    configured_model: str,
    options: TrainingOptions,
    extra_pairs: Sequence[EvalItem] = (),
    test_items: Sequence[EvalItem] | None = None,
) -> TrainingOutcome:
    """Fine-tune the active model on the base's own pairs; promote it only if not worse.

    Nothing changes unless the whole run succeeds: the version is written under a temporary
    name, renamed when complete, and only then registered (with its vectors) in one commit.
    """
    started = time.monotonic()
    models_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(models_dir):
        remove_abandoned_versions(models_dir)
        # 1. The data, the articles, and the active model.
        async with session_factory() as session:
            training_set = await build_training_set(session, extra_pairs)
            articles = ArticleRepository(session)
            phrasings = await articles.active_phrasings()
            titles = {a.title: a.id for a in await articles.all()}
            parent = await ModelRegistry(session, models_dir).active_model(configured_model)

        # 2. Held-out questions: a seeded, stratified share, or the given test set.
        if test_items is not None:
            test, unknown_test = pairs_from_items(test_items, titles)
            split = split_with_test_set(training_set.pairs, test)
        else:
            unknown_test = 0
            split = split_held_out(training_set.pairs, options.held_out_share, options.hyper.seed)
        _check_enough(split, options.min_pairs)

        # 3. The old model on the held-out questions (with its cached vectors where it has them).
        old = await asyncio.to_thread(Encoder, parent.path)
        async with session_factory() as session:
            cached = await EmbeddingRepository(session).vectors(
                old.version, (p.id for p in phrasings)
            )
        old_vectors, _ = await phrasing_vectors(old, phrasings, cached)
        parent_weight = recommended_lexical_weight(parent.path) or 0.0
        served_before = (
            options.lexical_weight if options.lexical_weight is not None else parent_weight
        )
        [before] = (
            await asyncio.to_thread(
                _held_out_reports,
                old,
                phrasings,
                old_vectors,
                split,
                options.learned_top_k,
                [served_before],
            )
        ).values()
        del old

        # 4. Fine-tune into a temporary directory.
        name = _free_name(models_dir)
        scratch = models_dir / f"{INCOMPLETE_PREFIX}{name}-{os.getpid()}"
        try:
            scratch.mkdir()
            rows = [TrainingRow(p.query, p.title, p.negatives) for p in split.train]
            report = await asyncio.to_thread(
                fine_tune,
                parent.path,
                rows,
                scratch,
                options.hyper,
                threads=options.threads,
                progress=options.progress,
            )

            # 5. The new model on the same questions, and the vectors the bot will serve.
            new = await asyncio.to_thread(Encoder, scratch)
            new_vectors, _ = await phrasing_vectors(new, phrasings, {})
            # The lexical channel is recommended for the new model only if it lifts top-1 on
            # the held-out questions (a fine-tuned model may not need it).
            candidate = parent_weight or LEXICAL_WEIGHT
            reports = await asyncio.to_thread(
                _held_out_reports,
                new,
                phrasings,
                new_vectors,
                split,
                options.learned_top_k,
                [0.0, candidate, options.lexical_weight or 0.0],
            )
            recommended_weight = candidate if reports[candidate].top1 > reports[0.0].top1 else 0.0
            served = (
                options.lexical_weight if options.lexical_weight is not None else recommended_weight
            )
            after = reports[served]
            del new

            # 6. Promote only if not worse; thresholds for the new score scale.
            promoted, reason = _decide(Metrics.of(before), Metrics.of(after), options)
            chosen = choose_thresholds(after, options.precision_target)
            thresholds = (
                {"answer": chosen[0], "suggest": chosen[1]}
                if chosen
                else recommended_thresholds(parent.path)
            )
            metrics = _metrics(
                training_set,
                split,
                unknown_test,
                options,
                report,
                parent,
                Metrics.of(before),
                Metrics.of(after),
                thresholds,
                chosen is not None,
                promoted,
                reason,
                time.monotonic() - started,
            )
            metrics["lexical"] = {
                "before_weight": served_before,
                "recommended_weight": recommended_weight,
                "served_weight": served,
                "held_out_top1_by_weight": {
                    str(weight): round(found.top1, 4) for weight, found in sorted(reports.items())
                },
            }
            (scratch / "metrics.json").write_text(
                json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            write_recommendations(scratch, thresholds, recommended_weight)
            # What the bot serves it with; a model ONNX Runtime cannot serve is served by
            # PyTorch, so a failed export fails nothing here.
            try:
                await asyncio.to_thread(export_onnx, scratch)
            except Exception as error:  # the trained model is kept whatever the export does
                log.warning("no ONNX export of the new model: %s", error)
            (scratch / UNREGISTERED_MARKER).touch()
            target = models_dir / name
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise

        # 7. Register with its vectors in one transaction, promoted or kept as rejected. Until
        # the commit the directory carries a marker: if this process dies here, the next
        # training removes it.
        try:
            async with session_factory() as session:
                await EmbeddingRepository(session).store(
                    model_version(target),
                    {p.id: v for p, v in zip(phrasings, new_vectors, strict=True)},
                )
                version = await ModelRegistry(session, models_dir).record(
                    name=name, path=target, parent=parent, metrics=metrics, promote=promoted
                )
                await session.commit()
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / UNREGISTERED_MARKER).unlink()
    return TrainingOutcome(
        version,
        parent.name,
        promoted,
        reason,
        Metrics.of(before),
        Metrics.of(after),
        thresholds,
        metrics,
    )


def _check_enough(split: Split, min_pairs: int) -> None:
    if len(split.train) < min_pairs:
        raise TrainingRefused(
            f"too little data to train: {len(split.train)} training pairs, at least "
            f"{min_pairs} needed (TRAINING__MIN_PAIRS). Pairs come from 👍 and picked "
            "suggestions, the articles' phrasings, and --pairs FILE."
        )
    if not split.held_out:
        raise TrainingRefused(
            "no held-out questions to prove the new model better: no article has two or more "
            "questions from people (clicks or --pairs); add --pairs FILE or --test FILE."
        )


def _held_out_reports(
    encoder: Encoder,
    phrasings: Sequence[Phrasing],
    vectors: np.ndarray,
    split: Split,
    learned_top_k: int,
    lexical_weights: Iterable[float],
) -> dict[float, EvalReport]:
    """Rank all active articles for each held-out question, as the bot does, once per weight
    of the lexical channel (the questions encoded once); a held-out question stored as a
    phrasing is left out, so it is never found through itself."""
    held = {normalize(p.query) for p in split.held_out}
    kept = [
        (row, p)
        for row, p in enumerate(phrasings)
        if p.source == TITLE_SOURCE or normalize(p.text) not in held
    ]
    index = phrasing_index(vectors[[row for row, _ in kept]], [p for _, p in kept], learned_top_k)
    questions = [p.query for p in split.held_out]
    queries = encoder.encode_queries(questions)
    gold = [p.article_id for p in split.held_out]
    weights = sorted(set(lexical_weights))
    lexical = (
        LexicalIndex([p.text for _, p in kept]).scores(questions) if max(weights) > 0 else None
    )
    return {
        weight: evaluate_vectors(index, queries, gold, 0, lexical=lexical, lexical_weight=weight)
        for weight in weights
    }


def _decide(before: Metrics, after: Metrics, options: TrainingOptions) -> tuple[bool, str]:
    margin = options.promotion_margin
    worse = [
        f"{label} {old:.3f} → {new:.3f}"
        for label, old, new in (
            ("top-1", before.top1, after.top1),
            ("MRR@10", before.mrr10, after.mrr10),
        )
        if new < old - margin - 1e-9
    ]
    if worse:
        return False, f"worse on the held-out questions: {', '.join(worse)} (margin {margin:g})"
    return True, (
        f"not worse on the held-out questions: top-1 {before.top1:.3f} → {after.top1:.3f}, "
        f"MRR@10 {before.mrr10:.3f} → {after.mrr10:.3f}"
    )


def _metrics(
    training_set: TrainingSet,
    split: Split,
    unknown_test: int,
    options: TrainingOptions,
    report: FineTuneReport,
    parent: ActiveModel,
    before: Metrics,
    after: Metrics,
    thresholds: dict[str, float],
    thresholds_chosen: bool,
    promoted: bool,
    reason: str,
    seconds: float,
) -> dict[str, Any]:
    return {
        "parent": parent.name,
        "data": {
            "pairs": len(training_set.pairs),
            "user_questions": training_set.count(USER_SOURCES),
            "phrasings": training_set.count({PHRASING}),
            "with_negatives": sum(bool(p.negatives) for p in training_set.pairs),
            "unknown_titles": training_set.unknown_titles + unknown_test,
            "train": len(split.train),
            "held_out": len(split.held_out),
        },
        "hyperparameters": {
            **asdict(options.hyper),
            "loss": "MultipleNegativesRankingLoss",
            "similarity": "cosine",
            "batch_sampler": "no_duplicates",
            "threads": options.threads,
        },
        "steps": report.steps,
        "final_loss": report.final_loss,
        "before": asdict(before),
        "after": asdict(after),
        "thresholds": thresholds,
        "thresholds_source": "held-out" if thresholds_chosen else "parent",
        "precision_target": options.precision_target,
        "promoted": promoted,
        "reason": reason,
        "train_seconds": round(report.seconds, 1),
        "wall_seconds": round(seconds, 1),
    }


def _free_name(models_dir: Path) -> str:
    name = version_name()
    suffix = 1
    candidate = name
    while (models_dir / candidate).exists():
        suffix += 1
        candidate = f"{name}-{suffix}"
    return candidate


@contextmanager
def _exclusive(models_dir: Path) -> Iterator[None]:
    """One training at a time per models directory; the lock dies with the process."""
    with (models_dir / ".training.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainingRefused("another training is running; try again when it ends") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
