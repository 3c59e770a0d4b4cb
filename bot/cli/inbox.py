"""`faqbot inbox`: what people asked that the base could not answer, grouped by meaning."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from bot.app import build_resources
from bot.config import Settings
from knowledge_base.inbox import QuestionGroup, group_questions, open_questions

REASONS = {"nothing": "no answer", "none_fit": "none fit", "not_helpful": "👎"}
SAMPLE = 3


def register(sub: Any) -> None:
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


def format_groups(groups: list[QuestionGroup]) -> str:
    if not groups:
        return "The inbox is empty: every question was answered."
    total = sum(g.size for g in groups)
    lines = [f"{total} open questions in {len(groups)} groups, largest first.", ""]
    for number, group in enumerate(groups, 1):
        closest = (
            f"closest article: {group.closest.title} ({group.closest.score:.3f})"
            if group.closest
            else "no articles yet"
        )
        lines.append(
            f"#{number}  {group.size} questions from {len(group.askers)} people; {closest}"
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
