"""Models do not fill the disk: old versions are pruned, killed trainings' leftovers removed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main as faqbot
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.registry import (
    INCOMPLETE_PREFIX,
    UNREGISTERED_MARKER,
    RegistryError,
    training_lock,
)
from knowledge_base.types import ModelStatus
from tests.fakes.model_versions import model_dir, record_training, version_statuses


def _operator_shell(monkeypatch: pytest.MonkeyPatch, database_url: str, models: Path) -> Path:
    """`faqbot` as an operator runs it on this database and models folder, with no .env."""
    models.mkdir(exist_ok=True)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MODEL__MODELS_DIR", str(models))
    monkeypatch.chdir(models.parent)
    return models


def _left_by_a_dead_training(models: Path) -> Path:
    """A half-written version directory whose training process (pid 999999999) is gone."""
    folder = models / f"{INCOMPLETE_PREFIX}ft-20261207-120000-999999999"
    folder.mkdir()
    return folder


async def test_pruning_keeps_the_newest_versions_that_served_and_the_base(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    base = model_dir(models, "base/e5")
    for name, promote in (("ft-1", True), ("ft-2", False), ("ft-3", True), ("ft-4", True)):
        await record_training(session_factory, models, name, promote)
    # Served, newest first: ft-4 (active), ft-3, ft-1, base/e5; ft-2 was rejected.
    async with session_factory() as session:
        pruned = await ModelAdmin(session, models).prune(keep=2)
    assert sorted(v.name for v in pruned) == ["ft-1", "ft-2"]
    assert not (models / "ft-1").exists() and not (models / "ft-2").exists()
    assert (models / "ft-3").is_dir() and (models / "ft-4").is_dir() and base.is_dir()
    assert await version_statuses(session_factory, models) == {
        "base/e5": ModelStatus.PREVIOUS,
        "ft-1": ModelStatus.PRUNED,
        "ft-2": ModelStatus.PRUNED,
        "ft-3": ModelStatus.PREVIOUS,
        "ft-4": ModelStatus.ACTIVE,
    }
    # A rollback still has somewhere to go; a pruned version cannot be activated.
    async with session_factory() as session:
        left, now = await ModelAdmin(session, models).rollback()
        assert (left.name, now.name) == ("ft-4", "ft-3")
        with pytest.raises(RegistryError, match="gone"):
            await ModelAdmin(session, models).activate("ft-1", str(base))
    # The version rolled back from is a candidate nobody serves now: pruned next time.
    async with session_factory() as session:
        assert [v.name for v in await ModelAdmin(session, models).prune(keep=2)] == ["ft-4"]
        assert await ModelAdmin(session, models).prune(keep=2) == []


async def test_the_models_prune_command_says_what_it_pruned(
    session_factory: async_sessionmaker[AsyncSession],
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = tmp_path / "models"
    model_dir(models, "base/e5")
    for name in ("ft-1", "ft-2", "ft-3"):
        await record_training(session_factory, models, name, promote=True)
    _operator_shell(monkeypatch, migrated_url, models)
    monkeypatch.setenv("MODEL__PATH", str(models / "base" / "e5"))
    assert await asyncio.to_thread(faqbot, ["models", "prune"]) == 0  # KEEP_VERSIONS: 3
    assert capsys.readouterr().out.startswith("Nothing to prune")
    assert await asyncio.to_thread(faqbot, ["models", "prune", "--keep", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "pruned: ft-1 (previous before)",
        "pruned: ft-2 (previous before)",
    ]
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == [
        "base",
        "ft-3",
    ]
    assert (models / "base" / "e5").is_dir(), "a base model is never pruned"


def test_a_killed_trainings_leftovers_are_gone_after_the_next_ask(
    migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = _operator_shell(monkeypatch, migrated_url, tmp_path / "models")
    killed = _left_by_a_dead_training(models)
    (killed / "model.safetensors").write_bytes(b"\0" * 1024)
    unregistered = model_dir(models, "ft-20261207-110000")
    (unregistered / UNREGISTERED_MARKER).touch()
    # No model under this models directory: the command stops there (exit 3), after the
    # clean-up that every command starts with.
    assert faqbot(["ask", "впн"]) == 3
    assert not killed.exists() and not unregistered.exists()


def test_a_running_trainings_directory_is_no_leftover(
    migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = _operator_shell(monkeypatch, migrated_url, tmp_path / "models")
    # Written by a training whose process is gone, but the lock says a training runs now.
    writing = _left_by_a_dead_training(models)
    with training_lock(models):
        assert faqbot(["models", "list", "--json"]) == 0
    assert writing.exists()
    assert faqbot(["models", "list", "--json"]) == 0
    assert not writing.exists()
