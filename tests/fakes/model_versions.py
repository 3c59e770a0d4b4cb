"""Model versions as trainings leave them, without training: a folder that passes for a model,
a version recorded in the registry, and the status of each."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.training.registry import ModelRegistry


def model_dir(models: Path, name: str) -> Path:
    """A folder under `models` that the registry takes for a model (it has a modules.json)."""
    folder = models / name
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    return folder


async def record_training(
    factory: async_sessionmaker[AsyncSession],
    models: Path,
    name: str,
    promote: bool,
    metrics: Mapping[str, object] | None = None,
) -> None:
    """Records version `name`, trained from the active model (or models/base/e5), as a finished
    training does: promoted or not."""
    async with factory() as session:
        registry = ModelRegistry(session, models)
        parent = await registry.active_model(str(models / "base" / "e5"))
        await registry.record(
            name=name,
            path=model_dir(models, name),
            parent=parent,
            metrics=dict(metrics or {}),
            promote=promote,
        )
        await session.commit()


async def version_statuses(
    factory: async_sessionmaker[AsyncSession], models: Path
) -> dict[str, str]:
    """Each version's status, by name."""
    async with factory() as session:
        return {v.name: v.status for v in await ModelRegistry(session, models).all()}
