"""A test's SQLite database file: where it is, a whole copy of it, and articles and questions
put into it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from knowledge_base.articles import ArticleService
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.storage.tables import QueryRow
from knowledge_base.types import ArticleDraft, Band


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


async def answered_days_ago(
    factory: async_sessionmaker[AsyncSession], days: Iterable[int], model: str = "fixed-vectors"
) -> datetime:
    """An article «VPN» and one question it answered each of `days` days ago; returns the
    moment they were counted back from."""
    now = datetime.now(UTC)
    async with factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("VPN", "Шаги")])
        [article] = await ArticleService(session).all()
        session.add_all(
            QueryRow(
                user_id=10,
                text=f"вопрос {ago} дней назад",
                article_id=article.id,
                score=0.95,
                band=Band.ANSWER,
                model_version=model,
                created_at=now - timedelta(days=ago),
            )
            for ago in days
        )
        await session.commit()
    return now
