"""The index refresher: the running bot's serving snapshot follows the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.runtime.model_choice import (
    active_model,
    load_model,
    resolve_lexical_weight,
    resolve_thresholds,
)
from bot.runtime.periodic import Periodic
from knowledge_base.encoders.base import model_version
from knowledge_base.search.engine import SearchEngine
from knowledge_base.training.registry import ActiveModel

log = logging.getLogger(__name__)


class Serving(Protocol):
    """What the refresher uses of the process's resources (bot.app.Resources)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def search(self) -> SearchEngine: ...


class IndexRefresher:
    """Keeps the serving snapshot in step with the database while the bot polls: articles
    another process changed, and a newly active model (trained, activated, rolled back)."""

    def __init__(
        self,
        resources: Serving,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._resources = resources
        # Looks every INDEX_REFRESH_SECONDS; a test passes a fake clock's `sleep`.
        self._periodic = Periodic(
            self.refresh,
            lambda: resources.settings.index_refresh_seconds,
            "refresh failed; the previous model and index keep serving",
            log,
            sleep=sleep,
        )
        self._failed_version: str | None = None
        self._missing: Path | None = None

    async def start(self) -> None:
        if self._resources.settings.index_refresh_seconds > 0:
            self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def serve_changes(self) -> None:
        """An admin changed the base: serve it now, not at the next periodic look (a new text
        alone changes no phrasing, and rebuilds nothing)."""
        resources = self._resources
        await resources.search.refresh_if_changed(resources.session_factory)

    async def refresh(self) -> None:
        """One look at the database: switch models if another is active, then pick up changed
        articles. Questions keep being answered by the old snapshot meanwhile."""
        resources = self._resources
        search = resources.search
        model = await active_model(resources.settings, resources.session_factory)
        wanted = self._version_to_load(model)
        if wanted is not None and wanted != search.encoder.version:
            log.info("model %s is active now: loading it", model.name)
            try:
                encoder = await load_model(resources.settings, model.path)
            except Exception:
                # Not again until it changes; meanwhile the old model and new articles serve.
                self._failed_version = wanted
                log.exception(
                    "model %s failed to load; %s keeps serving", model.name, search.encoder.version
                )
            else:
                thresholds = resolve_thresholds(resources.settings, encoder)
                weight = resolve_lexical_weight(resources.settings, encoder)
                await search.rebuild(resources.session_factory, encoder, thresholds, weight)
                log.info("model %s serves now (%s)", model.name, encoder.version)
                return
        if await search.refresh_if_changed(resources.session_factory):
            log.info("index refreshed: the articles changed in the database")

    def _version_to_load(self, model: ActiveModel) -> str | None:
        """The version the active model directory holds now (a rebuilt directory is a new
        version); None when there is nothing loadable to switch to."""
        path = model.path
        if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            if self._missing != path:
                self._missing = path
                log.warning("the active model %s has no directory at %s", model.name, path)
            return None
        self._missing = None
        version = model_version(path)
        return None if version == self._failed_version else version
