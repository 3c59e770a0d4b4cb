"""One retraining: data → held-out split → fine-tune → old vs new → thresholds → register."""

from __future__ import annotations

import asyncio
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
    model_version,
    recommended_lexical_weight,
    recommended_thresholds,
)
from knowledge_base.encoders.base_models import write_recommendations
from knowledge_base.encoders.onnx_export import export_onnx
from knowledge_base.encoders.torch_encoder import Encoder
from knowledge_base.evaluation import EvalReport, choose_thresholds, evaluate_vectors
from knowledge_base.io import EvalItem
from knowledge_base.search.engine import phrasing_index, phrasing_vectors
from knowledge_base.search.fusion import LEXICAL_WEIGHT
from knowledge_base.search.lexical import LexicalIndex
from knowledge_base.search.vector_index import LEARNED_TOP_K
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.embeddings import EmbeddingRepository
from knowledge_base.training.dataset import (
    USER_SOURCES,
    Split,
    TrainingSet,
    build_training_set,
    normalize,
    pairs_from_items,
    split_held_out,
    split_with_test_set,
)
from knowledge_base.training.finetune import (
    FineTuneReport,
    Hyperparameters,
    TrainableModel,
    TrainingRow,
    fine_tune,
)
from knowledge_base.training.readiness import (
    MIN_HELD_OUT_TO_JUDGE,
    TrainingRefused,
    check_enough,
)
from knowledge_base.training.registry import (
    INCOMPLETE_PREFIX,
    UNREGISTERED_MARKER,
    ActiveModel,
    ModelRegistry,
    TrainingBusy,
    remove_abandoned_versions,
    training_lock,
    version_name,
)
from knowledge_base.types import AuditAction, ModelVersion, PairSource, Phrasing, PhrasingSource

log = logging.getLogger(__name__)


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
    # With fewer held-out questions than this, a model that is not worse is still not promoted:
    # it waits for a person to choose (/retrain asks the admin). 0: promote whatever the count.
    hold_below: int = 0
    # The admin who started the training: its end goes to the audit trail in the registering
    # transaction. None (the operator at the command line): nothing audited.
    actor_id: int | None = None
    # Their first name and @username as Telegram gave them, kept in the audit entry.
    actor_name: str | None = None
    actor_username: str | None = None


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
    # Fewer than MIN_HELD_OUT_TO_JUDGE held-out questions: the comparison proves little.
    too_few_to_judge: bool = False
    # Not promoted only because of that (TrainingOptions.hold_below): a person decides.
    held: bool = False


@dataclass(frozen=True)
class _Inputs:
    """What a training starts from, read in one session."""

    training_set: TrainingSet
    phrasings: list[Phrasing]
    titles: dict[str, int]
    parent: ActiveModel


@dataclass(frozen=True)
class _Questions:
    """The pairs to train on and the held-out questions that judge old against new."""

    split: Split
    # Questions of the given test set whose title names no article.
    unknown_test: int


@dataclass(frozen=True)
class _OldModel:
    """The active model on the held-out questions, scored as the bot serves it now."""

    report: EvalReport
    # The lexical weight the active model recommends (0 when it recommends none).
    recommended_weight: float
    served_weight: float


@dataclass(frozen=True)
class _NewModel:
    """The fine-tuned model on the held-out questions, and the vectors the bot will serve."""

    vectors: np.ndarray
    reports: dict[float, EvalReport]
    recommended_weight: float
    served_weight: float

    @property
    def report(self) -> EvalReport:
        return self.reports[self.served_weight]


@dataclass(frozen=True)
class _Decision:
    """Whether the new model is promoted, and the thresholds it is served with."""

    promoted: bool
    reason: str
    thresholds: dict[str, float]
    # False: too few held-out questions, so the parent's thresholds are kept.
    thresholds_chosen: bool
    # Not worse, yet not promoted: too few held-out questions (TrainingOptions.hold_below).
    held: bool = False


@dataclass(frozen=True)
class _Findings:
    """What one training found, as its metrics.json records it."""

    inputs: _Inputs
    questions: _Questions
    fine_tuned: FineTuneReport
    before: _OldModel
    after: _NewModel


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
        inputs = await _read_inputs(session_factory, models_dir, configured_model, extra_pairs)
        # 2. Held-out questions: a seeded, stratified share, or the given test set.
        questions = _held_out_questions(inputs, options, test_items)
        check_enough(questions.split, options.min_pairs)
        # 3. The old model on the held-out questions (with its cached vectors where it has them),
        # loaded once: the same copy is then trained, judged again and exported.
        trainable = await asyncio.to_thread(TrainableModel, inputs.parent.path, options.hyper)
        before = await _judge_old_model(
            session_factory, inputs, questions.split, options, trainable
        )
        name = _free_name(models_dir)
        scratch = models_dir / f"{INCOMPLETE_PREFIX}{name}-{os.getpid()}"
        try:
            scratch.mkdir()
            # 4. Fine-tune into a temporary directory.
            fine_tuned = await _fine_tune(trainable, questions.split, scratch, options)
            # 5. The new model on the same questions, and the vectors the bot will serve.
            after = await _judge_new_model(
                scratch, trainable, inputs.phrasings, questions.split, options, before
            )
            # 6. Promote only if not worse; thresholds for the new score scale.
            decision = _decide_promotion(before, after, options, inputs.parent)
            findings = _Findings(inputs, questions, fine_tuned, before, after)
            metrics = _metrics(findings, options, decision, time.monotonic() - started)
            # 7. The version's files in the temporary directory, then its own name.
            target = models_dir / name
            await _write_version(scratch, target, metrics, decision, after, trainable)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        # 8. Register with its vectors in one transaction, promoted or kept as rejected.
        version = await _register(
            session_factory, models_dir, target, inputs, after, metrics, decision, options
        )
    return TrainingOutcome(
        version,
        inputs.parent.name,
        decision.promoted,
        decision.reason,
        Metrics.of(before.report),
        Metrics.of(after.report),
        decision.thresholds,
        metrics,
        too_few_to_judge=len(questions.split.held_out) < MIN_HELD_OUT_TO_JUDGE,
        held=decision.held,
    )


async def _read_inputs(
    session_factory: async_sessionmaker[AsyncSession],
    models_dir: Path,
    configured_model: str,
    extra_pairs: Sequence[EvalItem],
) -> _Inputs:
    async with session_factory() as session:
        training_set = await build_training_set(session, extra_pairs)
        articles = ArticleRepository(session)
        phrasings = await articles.active_phrasings()
        titles = {a.title: a.id for a in await articles.all()}
        parent = await ModelRegistry(session, models_dir).active_model(configured_model)
    return _Inputs(training_set, phrasings, titles, parent)


def _held_out_questions(
    inputs: _Inputs, options: TrainingOptions, test_items: Sequence[EvalItem] | None
) -> _Questions:
    pairs = inputs.training_set.pairs
    if test_items is not None:
        test, unknown_test = pairs_from_items(test_items, inputs.titles)
        return _Questions(split_with_test_set(pairs, test), unknown_test)
    return _Questions(split_held_out(pairs, options.held_out_share, options.hyper.seed), 0)


async def _judge_old_model(
    session_factory: async_sessionmaker[AsyncSession],
    inputs: _Inputs,
    split: Split,
    options: TrainingOptions,
    trainable: TrainableModel,
) -> _OldModel:
    old = await asyncio.to_thread(Encoder, inputs.parent.path, loaded=trainable.model)
    async with session_factory() as session:
        cached = await EmbeddingRepository(session).vectors(
            old.version, (p.id for p in inputs.phrasings)
        )
    old_vectors, _ = await phrasing_vectors(old, inputs.phrasings, cached)
    parent_weight = recommended_lexical_weight(inputs.parent.path) or 0.0
    served = options.lexical_weight if options.lexical_weight is not None else parent_weight
    [report] = (
        await asyncio.to_thread(
            _held_out_reports,
            old,
            inputs.phrasings,
            old_vectors,
            split,
            options.learned_top_k,
            [served],
        )
    ).values()
    return _OldModel(report, parent_weight, served)


async def _fine_tune(
    trainable: TrainableModel, split: Split, scratch: Path, options: TrainingOptions
) -> FineTuneReport:
    rows = [TrainingRow(p.query, p.title, p.negatives) for p in split.train]
    return await asyncio.to_thread(
        fine_tune,
        trainable,
        rows,
        scratch,
        options.hyper,
        threads=options.threads,
        progress=options.progress,
    )


async def _judge_new_model(
    scratch: Path,
    trainable: TrainableModel,
    phrasings: Sequence[Phrasing],
    split: Split,
    options: TrainingOptions,
    before: _OldModel,
) -> _NewModel:
    new = await asyncio.to_thread(Encoder, scratch, loaded=trainable.model)
    new_vectors, _ = await phrasing_vectors(new, phrasings, {})
    # The lexical channel is recommended for the new model only if it lifts top-1 on
    # the held-out questions (a fine-tuned model may not need it).
    candidate = before.recommended_weight or LEXICAL_WEIGHT
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
    served = options.lexical_weight if options.lexical_weight is not None else recommended_weight
    return _NewModel(new_vectors, reports, recommended_weight, served)


def _decide_promotion(
    before: _OldModel, after: _NewModel, options: TrainingOptions, parent: ActiveModel
) -> _Decision:
    promoted, reason = _decide(Metrics.of(before.report), Metrics.of(after.report), options)
    held = promoted and after.report.n < options.hold_below
    if held:
        promoted = False
        reason = (
            f"{reason}; but only {after.report.n} held-out questions, too few to judge "
            f"(fewer than {options.hold_below}): not promoted, a person decides"
        )
    chosen = choose_thresholds(after.report, options.precision_target)
    thresholds = (
        {"answer": chosen[0], "suggest": chosen[1]}
        if chosen
        else recommended_thresholds(parent.path)
    )
    return _Decision(promoted, reason, thresholds, chosen is not None, held)


async def _write_version(
    scratch: Path,
    target: Path,
    metrics: dict[str, Any],
    decision: _Decision,
    after: _NewModel,
    trainable: TrainableModel,
) -> None:
    (scratch / "metrics.json").write_text(
        json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    write_recommendations(scratch, decision.thresholds, after.recommended_weight)
    # What the bot serves it with, built while the model is in memory (a held version too: the
    # admin is asked to switch to it now). A rejected version serves nobody: it is exported on
    # its first load if an admin ever activates it. A model ONNX Runtime cannot serve is served
    # by PyTorch, so a failed export fails nothing here.
    if decision.promoted or decision.held:
        try:
            await asyncio.to_thread(export_onnx, scratch, trainable.model)
        except Exception as error:  # the trained model is kept whatever the export does
            log.warning("no ONNX export of the new model: %s", error)
    (scratch / UNREGISTERED_MARKER).touch()
    scratch.rename(target)


async def _register(
    session_factory: async_sessionmaker[AsyncSession],
    models_dir: Path,
    target: Path,
    inputs: _Inputs,
    after: _NewModel,
    metrics: dict[str, Any],
    decision: _Decision,
    options: TrainingOptions,
) -> ModelVersion:
    # Until the commit the directory carries a marker: if this process dies here, the next
    # training removes it.
    try:
        async with session_factory() as session:
            await EmbeddingRepository(session).store(
                model_version(target),
                {p.id: v for p, v in zip(inputs.phrasings, after.vectors, strict=True)},
            )
            version = await ModelRegistry(session, models_dir).record(
                name=target.name,
                path=target,
                parent=inputs.parent,
                metrics=metrics,
                promote=decision.promoted,
            )
            if options.actor_id is not None:
                await AuditRepository(session).add(
                    options.actor_id,
                    _audit_action(decision),
                    None,
                    inputs.parent.name,
                    target.name,
                    actor_name=options.actor_name,
                    actor_username=options.actor_username,
                )
            await session.commit()
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    (target / UNREGISTERED_MARKER).unlink()
    return version


def _audit_action(decision: _Decision) -> AuditAction:
    if decision.promoted:
        return AuditAction.TRAIN_PROMOTED
    return AuditAction.TRAIN_HELD if decision.held else AuditAction.TRAIN_REJECTED


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
        if p.source == PhrasingSource.TITLE or normalize(p.text) not in held
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
    findings: _Findings, options: TrainingOptions, decision: _Decision, wall_seconds: float
) -> dict[str, Any]:
    training_set = findings.inputs.training_set
    split = findings.questions.split
    fine_tuned = findings.fine_tuned
    return {
        "parent": findings.inputs.parent.name,
        "data": {
            "pairs": len(training_set.pairs),
            "user_questions": training_set.count(USER_SOURCES),
            "phrasings": training_set.count({PairSource.PHRASING}),
            "with_negatives": sum(bool(p.negatives) for p in training_set.pairs),
            "unknown_titles": training_set.unknown_titles + findings.questions.unknown_test,
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
        "steps": fine_tuned.steps,
        "final_loss": fine_tuned.final_loss,
        "before": asdict(Metrics.of(findings.before.report)),
        "after": asdict(Metrics.of(findings.after.report)),
        "thresholds": decision.thresholds,
        "thresholds_source": "held-out" if decision.thresholds_chosen else "parent",
        "precision_target": options.precision_target,
        "promoted": decision.promoted,
        "held": decision.held,
        "reason": decision.reason,
        "train_seconds": round(fine_tuned.seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        "lexical": {
            "before_weight": findings.before.served_weight,
            "recommended_weight": findings.after.recommended_weight,
            "served_weight": findings.after.served_weight,
            "held_out_top1_by_weight": {
                str(weight): round(found.top1, 4)
                for weight, found in sorted(findings.after.reports.items())
            },
        },
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
    """One training at a time per models directory."""
    try:
        with training_lock(models_dir):
            yield
    except TrainingBusy:
        raise TrainingRefused("another training is running; try again when it ends") from None
