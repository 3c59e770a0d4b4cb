"""Phrasing vectors cached per model version."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from knowledge_base.storage.tables import EmbeddingRow


class EmbeddingRepository:
    """Phrasing vectors cached per model version, so a restart does not re-encode the base."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def vectors(self, model_version: str, phrasing_ids: Iterable[int]) -> dict[int, bytes]:
        wanted = set(phrasing_ids)
        rows = await self._session.execute(
            select(EmbeddingRow.phrasing_id, EmbeddingRow.vector).where(
                EmbeddingRow.model_version == model_version
            )
        )
        return {r.phrasing_id: r.vector for r in rows if r.phrasing_id in wanted}

    async def store(self, model_version: str, vectors: Mapping[int, np.ndarray]) -> None:
        """Cache vectors; one another process cached meanwhile (the bot beside a CLI) is kept."""
        if not vectors:
            return
        rows = [
            {
                "phrasing_id": phrasing_id,
                "model_version": model_version,
                "vector": np.asarray(vector, dtype="<f4").tobytes(),
            }
            for phrasing_id, vector in vectors.items()
        ]
        dialect = self._session.get_bind().dialect.name
        statement: Executable
        if dialect == "sqlite":
            statement = sqlite_insert(EmbeddingRow).on_conflict_do_nothing()
        elif dialect == "postgresql":
            statement = postgresql_insert(EmbeddingRow).on_conflict_do_nothing()
        else:
            statement = insert(EmbeddingRow)
        await self._session.execute(statement, rows)
