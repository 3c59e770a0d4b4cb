"""Every Alembic revision goes up, down and up again on a real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from knowledge_base.storage.engine import alembic_config, downgrade_database, upgrade_database
from knowledge_base.storage.tables import Base


def _tables(path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_every_revision_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    path = tmp_path / "stairway.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    script = ScriptDirectory.from_config(alembic_config(url))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade_database(url, revision.revision)
        downgrade_database(url, revision.down_revision or "base")
        upgrade_database(url, revision.revision)
    assert _tables(path) == set(Base.metadata.tables)


# Alembic cannot reflect SQLite expression indexes; the test checks that one by name.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_head_schema_matches_the_tables_module(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    path = tmp_path / "head.sqlite3"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            indexes = set(
                connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'feedback'"
                ).scalars()
            )
    finally:
        engine.dispose()
    assert diff == []
    assert "uq_feedback_click" in indexes


def test_the_message_key_revision_keeps_questions_and_feedback_both_ways(tmp_path: Path) -> None:
    """0003 alters `queries`, which feedback references: with foreign keys on, a rebuilt table
    would take the feedback with it."""
    path = tmp_path / "kept.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url, "0002")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO articles (id, title, body, category, archived, created_at, "
                "updated_at) VALUES (1, 't', 'b', '', 0, '2026-01-01', '2026-01-01')"
            )
            connection.exec_driver_sql(
                "INSERT INTO queries (id, user_id, text, article_id, score, band, model_version, "
                "created_at) VALUES (1, 5, 'q', 1, 0.9, 'answer', 'v', '2026-01-01')"
            )
            connection.exec_driver_sql(
                "INSERT INTO feedback (query_id, article_id, label, user_id, created_at) "
                "VALUES (1, 1, 1, 5, '2026-01-01')"
            )
        counts = "SELECT (SELECT count(*) FROM queries), (SELECT count(*) FROM feedback)"
        upgrade_database(url, "0003")
        with engine.connect() as connection:
            assert tuple(connection.exec_driver_sql(counts).one()) == (1, 1)
            assert connection.exec_driver_sql("SELECT message_key FROM queries").scalar() is None
        downgrade_database(url, "0002")
        with engine.connect() as connection:
            assert tuple(connection.exec_driver_sql(counts).one()) == (1, 1)
    finally:
        engine.dispose()


async def test_every_connection_has_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    from knowledge_base.storage.engine import create_engine as create_async_engine

    url = f"sqlite+aiosqlite:///{tmp_path / 'pragmas.sqlite3'}"
    await asyncio.to_thread(upgrade_database, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000}
