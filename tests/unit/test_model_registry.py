"""Which model answers: activation, promotion and rollback, on a real migrated SQLite file."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.audit import Actor
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.registry import (
    UNREGISTERED_MARKER,
    ModelRegistry,
    RegistryError,
    remove_abandoned_versions,
)
from knowledge_base.types import ModelStatus
from tests.fakes.model_versions import model_dir, record_training, version_statuses
from tests.fakes.people import ADMIN

# Trainings here report their held-out numbers, as real ones do.
_train = partial(record_training, metrics={"after": {"top1": 0.5}})

ACTIVE, PREVIOUS = ModelStatus.ACTIVE, ModelStatus.PREVIOUS
REJECTED, ROLLED_BACK = ModelStatus.REJECTED, ModelStatus.ROLLED_BACK


async def test_promotion_rejection_and_rollback_walk_back_through_history(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    base = model_dir(models, "base/e5")
    async with session_factory() as session:
        active = await ModelRegistry(session, models).active_model(str(base))
    assert (active.name, active.registered) == ("base/e5", False)

    await _train(session_factory, models, "ft-1", promote=True)
    await _train(session_factory, models, "ft-2", promote=False)
    await _train(session_factory, models, "ft-3", promote=True)
    assert await version_statuses(session_factory, models) == {
        "base/e5": PREVIOUS,
        "ft-1": PREVIOUS,
        "ft-2": REJECTED,
        "ft-3": ACTIVE,
    }
    async with session_factory() as session:
        versions = {v.name: v for v in await ModelRegistry(session, models).all()}
    assert versions["ft-3"].parent == "ft-1", "a rejected candidate is nobody's parent"
    assert versions["ft-1"].path == models / "ft-1"

    async with session_factory() as session:
        left, now = await ModelAdmin(session, models).rollback()
    assert (left.name, now.name) == ("ft-3", "ft-1")
    async with session_factory() as session:
        left, now = await ModelAdmin(session, models).rollback()
    assert (left.name, now.name) == ("ft-1", "base/e5"), "a second rollback goes further back"
    async with session_factory() as session:
        with pytest.raises(RegistryError, match="base/e5 is the only version that has served"):
            await ModelAdmin(session, models).rollback()
    statuses = await version_statuses(session_factory, models)
    assert statuses["base/e5"] == ACTIVE
    assert statuses["ft-3"] == statuses["ft-1"] == ROLLED_BACK

    async with session_factory() as session:
        models_admin = ModelAdmin(session, models)
        await models_admin.activate("ft-2", str(base))  # the operator may overrule a rejection
        with pytest.raises(RegistryError, match="no model version"):
            await models_admin.activate("ft-404", str(base))
    async with session_factory() as session:
        assert (
            await ModelRegistry(session, models).active_model(str(base))
        ).path == models / "ft-2"


async def test_a_version_whose_directory_is_gone_is_not_activated(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    await _train(session_factory, models, "ft-1", promote=False)
    (models / "ft-1" / "modules.json").unlink()
    async with session_factory() as session:
        with pytest.raises(RegistryError, match="gone"):
            await ModelAdmin(session, models).activate("ft-1", str(models / "base" / "e5"))
    assert (await version_statuses(session_factory, models))["ft-1"] == REJECTED


async def test_activating_a_candidate_before_any_promotion_keeps_the_base_to_return_to(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    base = model_dir(models, "base/e5")
    await _train(session_factory, models, "ft-1", promote=False)
    async with session_factory() as session:
        await ModelAdmin(session, models).activate("ft-1", str(base))
    assert await version_statuses(session_factory, models) == {"ft-1": ACTIVE, "base/e5": PREVIOUS}
    async with session_factory() as session:
        left, now = await ModelAdmin(session, models).rollback()
    assert (left.name, now.name) == ("ft-1", "base/e5")
    assert now.path == base


async def test_a_rollback_and_its_audit_record_are_one_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An admin's rollback whose audit record cannot be written leaves the model as it was."""
    models = tmp_path / "models"
    model_dir(models, "base/e5")
    await _train(session_factory, models, "ft-1", promote=True)
    admin = Actor(ADMIN, frozenset({ADMIN}))

    async def broken_audit(*_args: object, **_names: object) -> None:
        raise OSError("the audit record could not be written")

    monkeypatch.setattr(AuditRepository, "add", broken_audit)
    async with session_factory() as session:
        with pytest.raises(OSError, match="audit record"):
            await ModelAdmin(session, models, admin).rollback()
    assert (await version_statuses(session_factory, models))["ft-1"] == ACTIVE

    monkeypatch.undo()
    async with session_factory() as session:
        left, now = await ModelAdmin(session, models, admin).rollback()
    assert (left.name, now.name) == ("ft-1", "base/e5")
    assert await version_statuses(session_factory, models) == {
        "base/e5": ACTIVE,
        "ft-1": ROLLED_BACK,
    }
    async with session_factory() as session:
        [entry] = await AuditRepository(session).latest(10)
    assert (entry.actor_id, entry.action, entry.before, entry.after) == (
        ADMIN,
        "rollback",
        "ft-1",
        "base/e5",
    )


def test_only_the_leftovers_of_dead_trainings_are_removed(tmp_path: Path) -> None:
    import os

    dead = tmp_path / ".incomplete-ft-1-999999999"
    alive = tmp_path / f".incomplete-ft-2-{os.getpid()}"
    finished = tmp_path / "ft-3"
    # Complete, but its process died before the database registered it.
    unregistered = tmp_path / "ft-4"
    for folder in (dead, alive, finished, unregistered):
        folder.mkdir()
    (unregistered / UNREGISTERED_MARKER).touch()
    assert remove_abandoned_versions(tmp_path) == [dead, unregistered]
    assert alive.exists() and finished.exists()
    assert not dead.exists() and not unregistered.exists()
