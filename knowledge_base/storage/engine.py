"""Async engine and session factory; SQLite gets WAL and enforced foreign keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def ensure_sqlite_dir(database_url: str) -> None:
    """Create the folder of a SQLite file, so a fresh clone needs no manual mkdir."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


# How long a SQLite write waits for another writer's lock before it fails (and is retried by
# storage/faults.py): long enough for any one write transaction of another process (an import
# batch, a training registering its vectors) to end.
BUSY_TIMEOUT_MS = 15_000


def create_engine(database_url: str) -> AsyncEngine:
    ensure_sqlite_dir(database_url)
    # Parameters are people's questions and ids: no error message or log line may carry them.
    engine = create_async_engine(database_url, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read while the bot writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def read_only(session: AsyncSession) -> AsyncIterator[None]:
    """A read use case: its transaction ends with it, written nothing, so no snapshot is held
    while the caller talks to Telegram. (Only a use case that changes data commits.)"""
    try:
        yield
    finally:
        await session.rollback()


@asynccontextmanager
async def open_session(database_url: str) -> AsyncIterator[AsyncSession]:
    """One session on a short-lived engine, for one-shot commands."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a "%" in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply pending migrations. Synchronous: call it before the event loop, or in a thread."""
    from alembic import command

    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade_database(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)
