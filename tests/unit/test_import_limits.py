"""The README's numbers for an article file: a question up to 1,000 characters, a body up to
16,000 and a category up to 100 are imported, one character more is refused with its line; and
the file is written 50 articles per transaction."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.io import ImportFormatError, parse_articles
from knowledge_base.types import ArticleDraft
from tests.fakes.databases import database_file
from tests.fakes.settings import make_settings


def _line(**fields: object) -> str:
    return json.dumps({"title": "Отпуск", "body": "Как оформить", **fields}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("field", "limit", "value", "reason"),
    [
        ("questions", 1000, lambda n: ["в" * n], "a question is longer than 1000 characters"),
        ("body", 16_000, lambda n: "т" * n, "body is longer than 16000 characters"),
        ("category", 100, lambda n: "к" * n, "category is longer than 100 characters"),
    ],
)
def test_a_field_at_its_limit_is_imported_and_one_character_more_is_refused(
    field: str, limit: int, value: Any, reason: str
) -> None:
    [draft] = parse_articles(_line(**{field: value(limit)}), "jsonl")
    kept = {"questions": draft.questions, "body": draft.body, "category": draft.category}
    assert kept[field] == (value(limit) if field != "questions" else tuple(value(limit)))

    # The same file with a good article first: the refusal names the second line.
    text = _line(title="Первая") + "\n" + _line(**{field: value(limit + 1)})
    with pytest.raises(ImportFormatError) as refused:
        parse_articles(text, "jsonl")
    assert refused.value.line == 2
    assert reason in str(refused.value)


async def test_a_file_is_written_50_articles_per_transaction(
    tmp_path: Path, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    database = database_file(make_settings(tmp_path))
    drafts = [ArticleDraft(f"Статья {n}", "Текст") for n in range(101)]
    # What another connection (a bot beside the import) sees after each commit.
    seen: list[int] = []

    def count_committed(_session: object) -> None:
        with closing(sqlite3.connect(database)) as other:
            seen.append(other.execute("SELECT count(*) FROM articles").fetchone()[0])

    async with session_factory() as session:
        event.listen(session.sync_session, "after_commit", count_committed)
        report = await ArticleService(session).import_drafts(drafts)
    assert report.added == 101
    assert seen == [50, 100, 101]
