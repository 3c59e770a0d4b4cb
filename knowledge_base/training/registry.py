"""Which model answers: versions under models/, the active one, activation and rollback."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.model_versions import ModelVersionRepository, path_below
from knowledge_base.types import ModelStatus, ModelVersion

# A version directory is written under this prefix and renamed when complete, so a training
# that dies leaves nothing that looks like a version.
INCOMPLETE_PREFIX = ".incomplete-"
# Inside a complete version directory until the database has registered it.
UNREGISTERED_MARKER = ".unregistered"
# Held by the one training of a models directory.
TRAINING_LOCK = ".training.lock"


class TrainingBusy(RuntimeError):
    """Another training holds the models directory."""


class RegistryError(RuntimeError):
    """An activation or rollback that cannot be done; the message says why."""


@dataclass(frozen=True)
class ActiveModel:
    """The model that should answer: a registered version, or the configured base model."""

    path: Path
    name: str
    registered: bool


def version_name(now: datetime | None = None) -> str:
    return f"ft-{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def metrics_of(version: ModelVersion) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(version.metrics or "{}")
    return loaded


class ModelRegistry:
    """Model versions recorded in the database, so the bot and every command agree. It commits
    nothing: the use case that changes the registry commits (training/activation.py)."""

    def __init__(self, session: AsyncSession, models_dir: Path) -> None:
        self._session = session
        self._models_dir = models_dir
        self._versions = ModelVersionRepository(session, models_dir)

    async def active_model(self, configured: str) -> ActiveModel:
        """The active version, or the configured model (MODEL__PATH) while none is."""
        active = await self._versions.active()
        if active is not None:
            return ActiveModel(active.path, active.name, registered=True)
        path = Path(configured)
        return ActiveModel(path, self.name_of(path), registered=False)

    async def all(self) -> list[ModelVersion]:
        return await self._versions.all()

    async def get(self, name: str) -> ModelVersion | None:
        return await self._versions.get(name)

    def name_of(self, path: Path) -> str:
        """A model's name in the registry: its path below the models directory."""
        inside = path_below(path, self._models_dir)
        return str(inside) if inside is not None else path.name

    async def record(
        self,
        *,
        name: str,
        path: Path,
        parent: ActiveModel,
        metrics: dict[str, Any],
        promote: bool,
    ) -> ModelVersion:
        """Register a finished version; promote it, or keep it as a rejected candidate.

        Does not commit: the caller stores the version's vectors in the same transaction.
        """
        if promote:
            await self._register_base(parent)
        version = await self._versions.add(
            name=name,
            path=path,
            parent=parent.name,
            status=ModelStatus.REJECTED,
            metrics=json.dumps(metrics, ensure_ascii=False),
        )
        if promote:
            await self._switch_to(name, leaving=ModelStatus.PREVIOUS)
        return await self._versions.get(name) or version

    async def activate(self, name: str, configured: str) -> ModelVersion:
        """Make a registered version active (the operator's choice, even a rejected one).

        `configured` is MODEL__PATH: while no version is active it is what serves, and it is
        registered first so that a rollback can return to it.
        """
        version = await self._versions.get(name)
        if version is None:
            known = ", ".join(v.name for v in await self._versions.all()) or "none yet"
            raise RegistryError(f"no model version {name!r} (known: {known})")
        if version.status == ModelStatus.ACTIVE:
            raise RegistryError(f"{name} is already active")
        _require_directory(version)
        await self._register_base(await self.active_model(configured))
        await self._switch_to(name, leaving=ModelStatus.PREVIOUS)
        return await self._require(name)

    async def rollback(self) -> tuple[ModelVersion, ModelVersion]:
        """Return to the version that served before the active one; (left, now active)."""
        current = await self._versions.active()
        if current is None:
            raise RegistryError("no trained version is active: the base model already serves")
        target = await self._versions.latest_with_status(ModelStatus.PREVIOUS)
        if target is None:
            raise RegistryError(f"{current.name} is the only version that has served")
        _require_directory(target)
        # The version left behind is marked, so a second rollback goes further back instead
        # of returning to it.
        await self._versions.set_status(current.name, ModelStatus.ROLLED_BACK)
        await self._versions.set_status(target.name, ModelStatus.ACTIVE)
        return current, await self._require(target.name)

    async def prune(self, keep: int) -> list[ModelVersion]:
        """Mark as pruned every trained version outside the `keep` most recently activated
        ones that served (the active one first, then those a rollback returns to); rejected
        and rolled-back candidates go too. Base models (under base/) are never pruned. The
        versions whose files the caller may now delete; nothing is committed here."""
        versions = await self._versions.all()
        served = sorted(
            (v for v in versions if v.status in (ModelStatus.ACTIVE, ModelStatus.PREVIOUS)),
            key=lambda v: (v.status is ModelStatus.ACTIVE, v.activated_at or v.created_at),
            reverse=True,
        )
        kept = {v.name for v in served[:keep]}
        pruned = [
            v
            for v in versions
            if v.name not in kept
            and v.status is not ModelStatus.PRUNED
            and v.status is not ModelStatus.ACTIVE
            and not self._is_base(v)
        ]
        for version in pruned:
            await self._versions.set_status(version.name, ModelStatus.PRUNED)
        return pruned

    def _is_base(self, version: ModelVersion) -> bool:
        inside = path_below(version.path, self._models_dir)
        return inside is None or inside.parts[:1] == ("base",)

    async def _register_base(self, serving: ActiveModel) -> None:
        """The configured model becomes a version when another replaces it, so a rollback
        can return to it; it is marked as serving now, as it did."""
        if serving.registered or await self._versions.get(serving.name) is not None:
            return
        await self._versions.add(
            name=serving.name, path=serving.path, parent=None, status=ModelStatus.ACTIVE
        )
        await self._versions.set_status(
            serving.name, ModelStatus.ACTIVE, activated_at=datetime.now(UTC)
        )

    async def _switch_to(self, name: str, leaving: ModelStatus) -> None:
        current = await self._versions.active()
        if current is not None:
            await self._versions.set_status(current.name, leaving)
        await self._versions.set_status(name, ModelStatus.ACTIVE, activated_at=datetime.now(UTC))

    async def _require(self, name: str) -> ModelVersion:
        version = await self._versions.get(name)
        assert version is not None
        return version


def _require_directory(version: ModelVersion) -> None:
    if not (version.path / "modules.json").is_file():
        raise RegistryError(f"the directory of {version.name} is gone: {version.path}")


@contextmanager
def training_lock(models_dir: Path) -> Iterator[None]:
    """One training at a time per models directory; the lock dies with the process.
    TrainingBusy when another process holds it."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / TRAINING_LOCK).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainingBusy("another training is running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(models_dir: Path) -> list[Path]:
    """What killed trainings left, removed at the start of any `faqbot` command; nothing while
    a training runs (what it writes is no leftover yet)."""
    if not models_dir.is_dir():
        return []
    try:
        with training_lock(models_dir):
            return remove_abandoned_versions(models_dir)
    except (TrainingBusy, OSError):
        return []  # a training runs, or the folder is read-only: nothing to do now


def delete_files(versions: Iterable[ModelVersion], models_dir: Path) -> list[Path]:
    """Delete the directories of pruned versions (only ones inside the models directory)."""
    removed: list[Path] = []
    for version in versions:
        if path_below(version.path, models_dir) is not None and version.path.is_dir():
            shutil.rmtree(version.path, ignore_errors=True)
            removed.append(version.path)
    return removed


def remove_abandoned_versions(models_dir: Path) -> list[Path]:
    """Delete what dead trainings left: half-written directories, and complete ones that were
    never registered. Call it holding the training lock."""
    removed: list[Path] = []
    if not models_dir.is_dir():
        return removed
    for folder in sorted(models_dir.glob(f"{INCOMPLETE_PREFIX}*")):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    for marker in sorted(models_dir.glob(f"*/{UNREGISTERED_MARKER}")):
        shutil.rmtree(marker.parent, ignore_errors=True)
        removed.append(marker.parent)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
