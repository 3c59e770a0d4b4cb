"""The registry of model versions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import ModelVersionRow
from knowledge_base.types import ModelStatus, ModelVersion


class ModelVersionRepository:
    """The registry of model versions; paths inside the models directory are kept relative."""

    def __init__(self, session: AsyncSession, models_dir: Path) -> None:
        self._session = session
        self._models_dir = models_dir

    async def all(self) -> list[ModelVersion]:
        rows = await self._session.scalars(
            select(ModelVersionRow).order_by(ModelVersionRow.created_at, ModelVersionRow.id)
        )
        return [self._version(row) for row in rows]

    async def get(self, name: str) -> ModelVersion | None:
        row = await self._row(name)
        return self._version(row) if row else None

    async def active(self) -> ModelVersion | None:
        row = await self._session.scalar(
            select(ModelVersionRow).where(ModelVersionRow.status == ModelStatus.ACTIVE)
        )
        return self._version(row) if row else None

    async def latest_with_status(self, status: ModelStatus) -> ModelVersion | None:
        """The most recently activated version with this status (for a rollback: "previous")."""
        row = await self._session.scalar(
            select(ModelVersionRow)
            .where(ModelVersionRow.status == status)
            .order_by(ModelVersionRow.activated_at.desc(), ModelVersionRow.id.desc())
            .limit(1)
        )
        return self._version(row) if row else None

    async def add(
        self,
        *,
        name: str,
        path: Path,
        parent: str | None,
        status: ModelStatus,
        metrics: str = "{}",
    ) -> ModelVersion:
        row = ModelVersionRow(
            name=name, path=self._stored_path(path), parent=parent, status=status, metrics=metrics
        )
        self._session.add(row)
        await self._session.flush()
        return self._version(row)

    async def set_status(
        self, name: str, status: ModelStatus, activated_at: datetime | None = None
    ) -> None:
        row = await self._row(name)
        if row is None:
            raise KeyError(name)
        row.status = status
        if activated_at is not None:
            row.activated_at = activated_at
        await self._session.flush()

    async def _row(self, name: str) -> ModelVersionRow | None:
        return await self._session.scalar(
            select(ModelVersionRow).where(ModelVersionRow.name == name)
        )

    def _stored_path(self, path: Path) -> str:
        inside = path_below(path, self._models_dir)
        return str(inside if inside is not None else path.resolve())

    def _version(self, row: ModelVersionRow) -> ModelVersion:
        path = Path(row.path)
        return ModelVersion(
            name=row.name,
            path=path if path.is_absolute() else self._models_dir / path,
            parent=row.parent,
            status=ModelStatus(row.status),
            created_at=row.created_at,
            activated_at=row.activated_at,
            metrics=row.metrics,
        )


def path_below(path: Path, models_dir: Path) -> Path | None:
    """The path relative to the models directory; None for a model kept elsewhere."""
    try:
        return path.resolve().relative_to(models_dir.resolve())
    except ValueError:
        return None
