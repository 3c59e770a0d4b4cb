"""INSERT … ON CONFLICT DO NOTHING on the dialects that have it: one statement, no savepoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from knowledge_base.storage.tables import Base


def insert_skipping_duplicates(
    session: AsyncSession, table: type[Base], rows: Sequence[Mapping[str, object]] = ()
) -> Insert | None:
    """INSERT … ON CONFLICT DO NOTHING where the database has it (SQLite, PostgreSQL): one
    statement, no savepoint left to roll back. None elsewhere. With no `rows`, the statement
    takes them as parameters (executemany: compiled once, cached)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return None
    statement = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table)
    if rows:
        statement = statement.values(list(rows))
    return statement.on_conflict_do_nothing()
