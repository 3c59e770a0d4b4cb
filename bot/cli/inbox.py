"""`faqbot inbox` (what the base could not answer, grouped by meaning) and `faqbot stats`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.app import build_resources
from bot.config import Settings
from knowledge_base.inbox import QuestionGroup, group_questions, open_questions
from knowledge_base.stats import Stats, collect
from knowledge_base.types import Band, InboxReason

REASONS = {
    InboxReason.NOTHING: "no answer",
    InboxReason.NONE_FIT: "none fit",
    InboxReason.NOT_HELPFUL: "👎",
}
SAMPLE = 3


def register(sub: Any) -> None:
    register_stats(sub)
    inbox = sub.add_parser("inbox", help="open unanswered questions, grouped by meaning")
    inbox.add_argument("--json", action="store_true", help="print one JSON object")
    inbox.set_defaults(handler=_inbox)


def _inbox(settings: Settings, args: argparse.Namespace) -> int:
    async def show() -> int:
        resources = await build_resources(settings)
        try:
            async with resources.session_factory() as session:
                questions = await open_questions(session)
            groups = await group_questions(resources.search, questions)
        finally:
            await resources.close()
        if args.json:
            print(json.dumps([_group_json(g) for g in groups], ensure_ascii=False))
        else:
            print(format_groups(groups))
        return 0

    return asyncio.run(show())


def _group_json(group: QuestionGroup) -> dict[str, Any]:
    return {
        "size": group.size,
        "people": len(group.askers),
        "closest": (
            {"title": group.closest.title, "score": round(group.closest.score, 4)}
            if group.closest
            else None
        ),
        "questions": [
            {"query_id": q.query_id, "text": q.text, "reason": q.reason} for q in group.questions
        ],
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _asked_by(people: int) -> str:
    # Questions from `faqbot ask` and the terminal chat have no Telegram user.
    if people == 0:
        return "the command line"
    return "1 person" if people == 1 else f"{people} people"


def format_groups(groups: list[QuestionGroup]) -> str:
    if not groups:
        return "The inbox is empty: every question was answered."
    total = sum(g.size for g in groups)
    lines = [
        f"{_count(total, 'open question')} in {_count(len(groups), 'group')}, largest first.",
        "",
    ]
    for number, group in enumerate(groups, 1):
        closest = (
            f"closest article: {group.closest.title} ({group.closest.score:.3f})"
            if group.closest
            else "no articles yet"
        )
        lines.append(
            f"#{number}  {_count(group.size, 'question')} from {_asked_by(len(group.askers))}; "
            f"{closest}"
        )
        for question in group.questions[:SAMPLE]:
            when = question.asked_at.strftime("%Y-%m-%d %H:%M")
            lines.append(
                f"    {question.text}  ({REASONS[question.reason]}, {when}, #{question.query_id})"
            )
        if group.size > SAMPLE:
            lines.append(f"    … and {group.size - SAMPLE} more")
        lines.append("")
    return "\n".join(lines).rstrip()


def register_stats(sub: Any) -> None:
    stats = sub.add_parser("stats", help="questions by band, 👍/👎, top articles, the inbox")
    stats.add_argument("--days", type=int, default=14, help="the last N days (default 14)")
    stats.set_defaults(handler=_stats)


def _stats(settings: Settings, args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 3650:
        print("--days must be between 1 and 3650", file=sys.stderr)
        return 1

    async def show() -> int:
        resources = await build_resources(settings)
        try:
            async with resources.session_factory() as session:
                stats = await collect(session, args.days)
                questions = await open_questions(session)
            groups = await group_questions(resources.search, questions)
            model = resources.search.model_version
        finally:
            await resources.close()
        print(format_stats(stats, groups, model, args.days))
        return 0

    return asyncio.run(show())


def format_stats(stats: Stats, groups: list[QuestionGroup], model: str, days: int) -> str:
    lines = [f"Last {days} days: {stats.total} questions."]
    if stats.total:
        lines.append(
            "answered {:.0%}, suggested {:.0%}, unanswered {:.0%}".format(
                *(stats.band_share(b) for b in Band)
            )
        )
    rate = stats.helpful_rate
    lines.append(
        f"👍 {stats.helpful}, 👎 {stats.not_helpful}"
        + (f": {rate:.0%} helpful" if rate is not None else "")
    )
    if stats.top_articles:
        lines += ["", "Most answered:"] + [f"  {n:>5}  {t}" for t, n in stats.top_articles]
    if groups:
        lines += ["", "Largest open inbox groups (faqbot inbox):"]
        lines += [f"  {g.size:>5}  {g.questions[0].text}" for g in groups[:3]]
    lines += ["", f"Model: {model}"]
    lines += ["", "Day         answered  suggested  unanswered   👍   👎"]
    for day in stats.days:
        b = day.by_band
        lines.append(
            f"{day.day.isoformat()}  {b[Band.ANSWER]:>8}  {b[Band.SUGGEST]:>9}"
            f"  {b[Band.NOTHING]:>10}"
            f"  {day.helpful:>3}  {day.not_helpful:>3}"
        )
    return "\n".join(lines)
