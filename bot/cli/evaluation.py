"""`faqbot eval`: how well the active model ranks the articles for {query, title} lines."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.app import build_resources
from bot.config import Settings
from bot.runtime.model_choice import active_model
from knowledge_base.articles import ArticleService
from knowledge_base.encoders.loading import load_encoder
from knowledge_base.evaluation import EvalReport, evaluate
from knowledge_base.io import ImportFormatError, read_articles, read_eval_set
from knowledge_base.storage.engine import (
    create_engine,
    create_session_factory,
    open_session,
    upgrade_database,
)
from knowledge_base.types import ArticleDraft, PhrasingSource


def register(sub: Any) -> None:
    ev = sub.add_parser("eval", help="rank all active articles for each {query, title} line")
    ev.add_argument("file", type=Path)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument(
        "--articles",
        type=Path,
        help="evaluate against this article file in a throwaway database instead of the base",
    )
    ev.add_argument("--model", help="model directory to evaluate instead of the active one")
    ev.add_argument(
        "--negatives",
        type=Path,
        help="{query, ...} lines the base cannot answer: how many would pass each threshold",
    )
    ev.add_argument(
        "--learned-after",
        type=int,
        metavar="N",
        help="with --articles: each article's questions after its first N are loaded as learned "
        "phrasings (as if people had confirmed them), not as curated ones",
    )
    ev.add_argument(
        "--learned-every-other",
        action="store_true",
        help="with --learned-after: only the 1st, 3rd, 5th… article gets its learned phrasings; "
        "top-1 is reported apart for the questions about each half (the fairness evaluation)",
    )
    ev.set_defaults(handler=_eval)


def _eval(settings: Settings, args: argparse.Namespace) -> int:
    try:
        items = read_eval_set(args.file)
        negatives = (
            [item.query for item in read_eval_set(args.negatives, need_title=False)]
            if args.negatives
            else []
        )
    except (ImportFormatError, OSError) as error:
        print(f"{error}", file=sys.stderr)
        return 1
    # The model: --model, else the one that answers in the real base (not the scratch one).
    model: str | Path = args.model or asyncio.run(_active_model_path(settings))
    if args.articles is None:
        if args.learned_after is not None or args.learned_every_other:
            print("--learned-after needs --articles", file=sys.stderr)
            return 1
        return asyncio.run(_evaluate(settings, model, items, negatives, args.json))
    if args.learned_every_other and args.learned_after is None:
        print("--learned-every-other needs --learned-after N", file=sys.stderr)
        return 1
    if args.learned_after is not None and args.learned_after < 0:
        print("--learned-after must not be negative", file=sys.stderr)
        return 1
    try:
        drafts = read_articles(args.articles)
    except (ImportFormatError, OSError) as error:
        print(f"{args.articles}: {error}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="faqbot-eval-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/eval.sqlite3"
        upgrade_database(url)
        scratch = settings.model_copy(update={"database_url": url})

        curated, learned = split_learned(drafts, args.learned_after, args.learned_every_other)

        async def seed_and_evaluate() -> int:
            async with open_session(url) as session:
                await ArticleService(session).import_drafts(curated)
                if learned:
                    await ArticleService(session).import_drafts(
                        learned, source=PhrasingSource.FEEDBACK
                    )
            halves = {d.title for d in learned if d.questions} if args.learned_every_other else None
            return await _evaluate(scratch, model, items, negatives, args.json, halves)

        return asyncio.run(seed_and_evaluate())


def split_learned(
    drafts: Sequence[ArticleDraft], after: int | None, every_other: bool
) -> tuple[list[ArticleDraft], list[ArticleDraft]]:
    """The drafts with their curated questions (the first `after`), and the drafts carrying
    the questions to load as learned phrasings (every article's, or every other one's)."""
    if after is None:
        return list(drafts), []
    curated = [replace(d, questions=d.questions[:after]) for d in drafts]
    learned = [
        replace(d, questions=d.questions[after:])
        for position, d in enumerate(drafts)
        if not every_other or position % 2 == 0
    ]
    return curated, learned


async def _active_model_path(settings: Settings) -> Path:
    db_engine = create_engine(settings.database_url)
    try:
        return (await active_model(settings, create_session_factory(db_engine))).path
    finally:
        await db_engine.dispose()


async def _evaluate(
    settings: Settings,
    model: str | Path,
    items: Sequence[Any],
    negatives: Sequence[str],
    as_json: bool,
    learned_titles: set[str] | None = None,
) -> int:
    encoder = await asyncio.to_thread(
        load_encoder, model, settings.model.backend, settings.model.allow_hub
    )
    resources = await build_resources(settings, encoder)
    try:
        report = await evaluate(resources.search, items, negatives)
        thresholds = resources.search.thresholds
        version = resources.search.model_version
        titles = resources.search.snapshot.titles
        learned_top_k = resources.search.learned_top_k
    finally:
        await resources.close()
    halves = None
    if learned_titles is not None:
        rich = {a for a, title in titles.items() if title in learned_titles}
        halves = (report.top1_of(rich), report.top1_of(set(titles) - rich))
    if as_json:
        found = eval_json(report, version)
        found["learned_top_k"] = learned_top_k
        if halves is not None:
            found["top1_with_learned"], found["n_with_learned"] = halves[0]
            found["top1_without_learned"], found["n_without_learned"] = halves[1]
        print(json.dumps(found, ensure_ascii=False))
    else:
        print(format_eval(report, version, thresholds.answer, thresholds.suggest))
        if halves is not None:
            (rich_top1, rich_n), (bare_top1, bare_n) = halves
            print(
                f"\nlearned phrasings counted by the mean of the {learned_top_k} best "
                "(SEARCH__LEARNED_TOP_K)\n"
                f"top-1, questions about articles with learned phrasings     "
                f"{rich_top1:.3f}  (n {rich_n})\n"
                f"top-1, questions about articles without learned phrasings  "
                f"{bare_top1:.3f}  (n {bare_n})"
            )
    return 0


def eval_json(report: EvalReport, model_version: str) -> dict[str, Any]:
    return {
        "n": report.n,
        "top1": round(report.top1, 4),
        "top3": round(report.top3, 4),
        "mrr10": round(report.mrr10, 4),
        "skipped": report.skipped,
        "model": model_version,
        "right_first_scores": report.summary(report.right_scores).__dict__,
        "wrong_first_scores": report.summary(report.wrong_scores).__dict__,
        "negative_scores": report.summary(report.negative_scores).__dict__,
        "thresholds": [row.__dict__ for row in report.threshold_table()],
    }


def format_eval(report: EvalReport, model_version: str, answer: float, suggest: float) -> str:
    lines = [
        f"model   {model_version}",
        f"n       {report.n}"
        + (f"  ({report.skipped} skipped: title not in the base)" if report.skipped else ""),
        f"top-1   {report.top1:.3f}",
        f"top-3   {report.top3:.3f}",
        f"MRR@10  {report.mrr10:.3f}",
        "",
        "score of the first answer        n    mean    p5    p10   p25   p50   p75   p90   p95",
    ]
    for name, scores in (("right", report.right_scores), ("wrong", report.wrong_scores)):
        s = report.summary(scores)
        q = "  ".join(
            f"{s.quantiles.get(k, 0.0):.3f}"
            for k in ("p5", "p10", "p25", "p50", "p75", "p90", "p95")
        )
        lines.append(f"  {name:<29} {s.count:>5}  {s.mean:.3f}  {q}")
    if report.negative_scores:
        s = report.summary(report.negative_scores)
        q = "  ".join(
            f"{s.quantiles.get(k, 0.0):.3f}"
            for k in ("p5", "p10", "p25", "p50", "p75", "p90", "p95")
        )
        lines.append(f"  {'best, unanswerable questions':<29} {s.count:>5}  {s.mean:.3f}  {q}")
    lines += ["", "threshold  first answers passing  right  precision  unanswerable passing"]
    for row in report.threshold_table():
        negatives = "" if row.negatives_passed is None else f"{row.negatives_passed:.1%}"
        lines.append(
            f"  {row.threshold:.2f}     {row.passed:>10}            {row.right:>5}  "
            f"{row.precision:>8.1%}   {negatives:>10}"
        )
    lines.append("")
    for name, threshold in (("answer", answer), ("suggest", suggest)):
        right = sum(score >= threshold for score in report.right_scores)
        wrong = sum(score >= threshold for score in report.wrong_scores)
        lines.append(
            f"at the {name} threshold {threshold:.3f}: "
            f"{right} right and {wrong} wrong first answers pass"
        )
    return "\n".join(lines)
