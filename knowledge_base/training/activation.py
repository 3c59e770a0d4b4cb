"""Which model answers, as a use case: the overview admins see, activation and rollback, each
one transaction with its audit record."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.audit import Actor
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.engine import read_only
from knowledge_base.training.readiness import Readiness, training_readiness
from knowledge_base.training.registry import ModelRegistry, delete_files, metrics_of
from knowledge_base.types import AuditAction, ModelStatus, ModelVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    """Why a version was not switched on after its training: worse on the held-out questions
    (`before` → `after`), or held because too few of them judged it (`held`)."""

    before: dict[str, float]
    after: dict[str, float]
    held_out: int
    held: bool


def rejection_of(version: ModelVersion) -> Rejection | None:
    """What a rejected version's training found; None for any other version, or one recorded
    without numbers."""
    if version.status is not ModelStatus.REJECTED:
        return None
    metrics = metrics_of(version)
    before, after = metrics.get("before"), metrics.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    return Rejection(
        before=before,
        after=after,
        held_out=int(metrics.get("data", {}).get("held_out") or 0),
        held=bool(metrics.get("held")),
    )


@dataclass(frozen=True)
class ModelOverview:
    name: str
    since: datetime | None
    before: dict[str, float] | None
    after: dict[str, float] | None
    held_out: int | None
    # Other versions, newest first: (name, status, created).
    earlier: list[tuple[str, ModelStatus, datetime]]
    can_roll_back: bool
    # Why each rejected earlier version was not switched on, by name.
    rejected: dict[str, Rejection] = field(default_factory=dict)

    @property
    def can_activate(self) -> list[str]:
        """Earlier versions an admin may make the one that answers (their files are kept)."""
        return [name for name, status, _ in self.earlier if status is not ModelStatus.PRUNED]


class ModelAdmin:
    """Model activation for an admin in Telegram (`actor`, checked and audited) or for the
    operator at the command line (no actor: no check, nothing audited)."""

    def __init__(self, session: AsyncSession, models_dir: Path, actor: Actor | None = None) -> None:
        self._session = session
        self._actor = actor
        self._models_dir = models_dir
        self._registry = ModelRegistry(session, models_dir)
        self._audit = AuditRepository(session)

    async def overview(self, configured: str) -> ModelOverview:
        """The model that answers, its numbers, and the versions before it."""
        self._check("model")
        async with read_only(self._session):
            active = await self._registry.active_model(configured)
            versions = await self._registry.all()
        current = next((v for v in versions if v.name == active.name), None)
        metrics = metrics_of(current) if current else {}
        earlier = sorted(versions, key=lambda v: v.created_at, reverse=True)
        return ModelOverview(
            name=active.name,
            since=current.activated_at if current else None,
            before=metrics.get("before"),
            after=metrics.get("after"),
            held_out=metrics.get("data", {}).get("held_out"),
            earlier=[(v.name, v.status, v.created_at) for v in earlier if v.name != active.name],
            can_roll_back=current is not None
            and any(v.status is ModelStatus.PREVIOUS for v in versions),
            rejected={
                v.name: found
                for v in earlier
                if v.name != active.name and (found := rejection_of(v)) is not None
            },
        )

    async def versions(self) -> list[ModelVersion]:
        async with read_only(self._session):
            return await self._registry.all()

    async def readiness(self, *, held_out_share: float, seed: int, min_pairs: int) -> Readiness:
        """Whether `faqbot train` would train now, without loading a model."""
        self._check("retrain")
        async with read_only(self._session):
            return await training_readiness(
                self._session, held_out_share=held_out_share, seed=seed, min_pairs=min_pairs
            )

    async def activate(self, name: str, configured: str) -> ModelVersion:
        """Make a registered version active (the operator's choice, even a rejected one).
        RegistryError when it cannot be. The switch and its audit record are one
        transaction."""
        self._check("activate")
        try:
            left = await self._registry.active_model(configured)
            version = await self._registry.activate(name, configured)
            if self._actor is not None:
                await self._audit.add(
                    self._actor.id,
                    AuditAction.ACTIVATE,
                    None,
                    left.name,
                    version.name,
                    **self._actor.audit_name,
                )
        except BaseException:
            await self._session.rollback()
            raise
        await self._session.commit()
        return version

    async def rollback(self) -> tuple[ModelVersion, ModelVersion]:
        """Back to the version that answered before; (left, now active). RegistryError when
        there is none. The switch and its audit record are one transaction."""
        self._check("rollback")
        try:
            left, active = await self._registry.rollback()
            if self._actor is not None:
                await self._audit.add(
                    self._actor.id,
                    AuditAction.ROLLBACK,
                    None,
                    left.name,
                    active.name,
                    **self._actor.audit_name,
                )
        except BaseException:
            await self._session.rollback()
            raise
        await self._session.commit()
        log.info("the model was rolled back from %s to %s", left.name, active.name)
        return left, active

    async def prune(self, keep: int) -> list[ModelVersion]:
        """Free the disk: delete the files of every trained version but the `keep` most
        recently activated ones that served (see ModelRegistry.prune); the pruned versions.
        The database says so first, so a crash in between leaves files nothing points at,
        never a version whose files are gone without a word."""
        self._check("prune")
        try:
            pruned = await self._registry.prune(keep)
        except BaseException:
            await self._session.rollback()
            raise
        await self._session.commit()
        removed = delete_files(pruned, self._models_dir)
        if removed:
            log.info(
                "pruned %d model versions: %s", len(removed), ", ".join(p.name for p in removed)
            )
        return pruned

    def _check(self, action: str) -> None:
        if self._actor is not None:
            self._actor.check(action)
