"""A test's SQLite database file: where it is, a whole copy of it, and articles put into it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from bot.config import Settings
from knowledge_base.articles import ArticleService
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.types import ArticleDraft


def copy_database(source: Path, target: Path) -> None:
    # The backup API reads through the WAL, so the copy is whole even if a -wal file lingers.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def database_file(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))


async def import_drafts(settings: Settings, drafts: Sequence[ArticleDraft]) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            await ArticleService(session).import_drafts(drafts)
    finally:
        await engine.dispose()
