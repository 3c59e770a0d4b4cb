"""`faqbot train` and `faqbot export-pairs`: learn from the bot's own feedback."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.cli.models import REACHES_THE_BOT
from bot.config import Settings, TrainingSettings
from knowledge_base.io import EvalItem, ImportFormatError, read_eval_set
from knowledge_base.storage.engine import create_engine, create_session_factory, open_session
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.dataset import build_training_set
from knowledge_base.training.finetune import Hyperparameters, default_threads
from knowledge_base.training.pipeline import (
    MIN_HELD_OUT_TO_JUDGE,
    TrainingOptions,
    TrainingOutcome,
    TrainingRefused,
    train_new_version,
)

# Exit code when training is refused (too little data, another training running); 1 is a bad
# file or option, 2 a usage error or invalid settings, 3 a missing model.
REFUSED = 4


def register(sub: Any) -> None:
    train = sub.add_parser(
        "train",
        help="fine-tune the active model on feedback and phrasings; promote it if not worse",
    )
    train.add_argument("--pairs", type=Path, help='extra {"query", "title"} lines to train on')
    train.add_argument(
        "--test",
        type=Path,
        help='{"query", "title"} lines to compare old and new on, instead of a held-out share',
    )
    train.add_argument("--epochs", type=float, help="passes over the data (default 2)")
    train.add_argument("--batch-size", type=int, help="pairs per step (default 8)")
    train.add_argument("--lr", type=float, help="learning rate (default 5e-5)")
    train.add_argument("--seed", type=int, help="seed of the split and the training (default 42)")
    train.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    train.add_argument(
        "--hold-below",
        type=int,
        default=0,
        metavar="N",
        help="with fewer than N held-out questions, do not promote a model that is not worse: "
        "keep it for a person to activate (default 0: promote whatever the count)",
    )
    train.add_argument(
        "--by", type=int, metavar="ID", help="the admin who asked: the result goes to the audit log"
    )
    train.add_argument("--by-name", default="", help="their first name, for the audit log")
    train.add_argument("--by-username", default="", help="their @username, for the audit log")
    train.set_defaults(handler=_train)

    pairs = sub.add_parser(
        "export-pairs",
        help='write the training pairs as JSONL {"query", "title", "negatives", "source"}',
    )
    pairs.add_argument("file", type=Path)
    pairs.add_argument("--pairs", type=Path, help='extra {"query", "title"} lines to include')
    pairs.set_defaults(handler=_export_pairs)


def _read_items(path: Path | None) -> list[EvalItem] | None:
    return read_eval_set(path) if path is not None else None


def _train(settings: Settings, args: argparse.Namespace) -> int:
    try:
        extra = _read_items(args.pairs) or []
        test = _read_items(args.test)
    except (ImportFormatError, OSError) as error:
        print(f"{error}; nothing was trained", file=sys.stderr)
        return 1
    overrides = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("learning_rate", args.lr),
            ("seed", args.seed),
        )
        if value is not None
    }
    try:
        # The flags obey the same rules as the settings they override.
        config = TrainingSettings.model_validate({**settings.training.model_dump(), **overrides})
    except ValidationError as error:
        print(f"Invalid training options:\n{error}", file=sys.stderr)
        return 1
    hyper = Hyperparameters(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        warmup_ratio=config.warmup_ratio,
        freeze_embeddings=config.freeze_embeddings,
    )
    options = TrainingOptions(
        hyper=hyper,
        held_out_share=config.held_out_share,
        min_pairs=config.min_pairs,
        promotion_margin=config.promotion_margin,
        precision_target=config.precision_target,
        threads=config.threads or default_threads(),
        progress=True,
        learned_top_k=settings.search.learned_top_k,
        lexical_weight=settings.search.lexical_weight,
        hold_below=args.hold_below,
        actor_id=args.by,
        actor_name=args.by_name or None,
        actor_username=args.by_username or None,
    )
    # Below the bot in the scheduler's eyes: on a shared machine the answers come first.
    os.nice(config.niceness)

    async def train() -> int:
        engine = create_engine(settings.database_url)
        try:
            outcome = await train_new_version(
                create_session_factory(engine),
                settings.model.models_dir,
                settings.model.resolved_path(),
                options,
                extra_pairs=extra,
                test_items=test,
            )
        except TrainingRefused as error:
            await engine.dispose()
            print(f"Not trained: {error}", file=sys.stderr)
            return REFUSED
        try:
            if outcome.promoted and config.keep_versions:
                # An e5 version takes about 920 MB: the disk must not fill up training by training.
                async with create_session_factory(engine)() as session:
                    await ModelAdmin(session, settings.model.models_dir).prune(config.keep_versions)
        finally:
            await engine.dispose()
        if args.json:
            print(json.dumps(outcome_json(outcome), ensure_ascii=False))
        else:
            print(format_outcome(outcome))
        return 0

    return asyncio.run(train())


def outcome_json(outcome: TrainingOutcome) -> dict[str, Any]:
    return {
        "version": outcome.version.name,
        "path": str(outcome.version.path),
        "parent": outcome.parent,
        "promoted": outcome.promoted,
        "held": outcome.held,
        "too_few_to_judge": outcome.too_few_to_judge,
        "reason": outcome.reason,
        "before": asdict(outcome.before),
        "after": asdict(outcome.after),
        "thresholds": outcome.thresholds,
        "lexical": outcome.metrics.get("lexical"),
        "data": outcome.metrics["data"],
        "steps": outcome.metrics["steps"],
        "train_seconds": outcome.metrics["train_seconds"],
        "wall_seconds": outcome.metrics["wall_seconds"],
    }


def format_outcome(outcome: TrainingOutcome) -> str:
    data = outcome.metrics["data"]
    before, after = outcome.before, outcome.after
    lines = [
        f"Training data: {data['pairs']} pairs ({data['user_questions']} questions people asked, "
        f"{data['phrasings']} phrasings), {data['with_negatives']} with rejected articles"
        + (
            f"; {data['unknown_titles']} lines name no active article"
            if data["unknown_titles"]
            else ""
        ),
        f"Trained {outcome.version.name} from {outcome.parent}: {data['train']} pairs, "
        f"{outcome.metrics['steps']} steps in {outcome.metrics['train_seconds']:.0f} s "
        f"(all of it {outcome.metrics['wall_seconds']:.0f} s)",
        "",
    ]
    labels = [f"before ({outcome.parent})", f"after ({outcome.version.name})"]
    heading = f"{data['held_out']} held-out questions"
    width = max(len(heading), *(len(label) for label in labels)) + 2
    lines.append(f"{heading:<{width}}  top-1   top-3  MRR@10")
    for label, metrics in zip(labels, (before, after), strict=True):
        lines.append(
            f"  {label:<{width - 2}}{metrics.top1:>7.3f} {metrics.top3:>7.3f} {metrics.mrr10:>7.3f}"
        )
    lines.append("")
    if outcome.too_few_to_judge:
        lines += [
            f"Warning: too few held-out questions to judge ({data['held_out']}, fewer than "
            f"{MIN_HELD_OUT_TO_JUDGE}): the comparison above proves little.",
            "",
        ]
    thresholds = outcome.thresholds
    if thresholds:
        source = (
            f"{outcome.metrics['precision_target']:.0%} of direct answers right on the held-out "
            "questions"
            if outcome.metrics["thresholds_source"] == "held-out"
            else "too few held-out questions to choose: the parent's"
        )
        lines.append(
            f"Thresholds: answer {thresholds['answer']:.4f}, suggest {thresholds['suggest']:.4f} "
            f"({source})"
        )
    lexical = outcome.metrics.get("lexical")
    if lexical:
        by_weight = ", ".join(
            f"{float(w):g}: {top1:.3f}" for w, top1 in lexical["held_out_top1_by_weight"].items()
        )
        verdict = (
            f"kept at {lexical['recommended_weight']:g}"
            if lexical["recommended_weight"]
            else "off: it does not lift this model's top-1"
        )
        lines.append(f"Lexical channel: {verdict} (held-out top-1 by weight: {by_weight})")
    if outcome.promoted:
        lines.append(
            f"Promoted: {outcome.version.name} is active ({outcome.reason}); {REACHES_THE_BOT}."
        )
    else:
        lines.append(
            f"Not promoted: {outcome.reason}. {outcome.version.name} is kept as a rejected "
            f"candidate; {outcome.parent} still answers."
        )
    return "\n".join(lines)


def _export_pairs(settings: Settings, args: argparse.Namespace) -> int:
    try:
        extra = _read_items(args.pairs) or []
    except (ImportFormatError, OSError) as error:
        print(f"{error}", file=sys.stderr)
        return 1

    async def export() -> int:
        async with open_session(settings.database_url) as session:
            training_set = await build_training_set(session, extra)
        lines = [
            json.dumps(
                {
                    "query": pair.query,
                    "title": pair.title,
                    "negatives": list(pair.negatives),
                    "source": pair.source,
                },
                ensure_ascii=False,
            )
            for pair in training_set.pairs
        ]
        args.file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        unknown = (
            f"; {training_set.unknown_titles} --pairs lines name no active article"
            if training_set.unknown_titles
            else ""
        )
        print(f"Exported {len(lines)} training pairs to {args.file}{unknown}.")
        return 0

    return asyncio.run(export())
