"""Builds the long-lived resources and the Dispatcher; `create_dispatcher` does no I/O."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatType, ParseMode
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.handlers import admin
from bot.handlers.admin.model import TrainingRun
from bot.handlers.user import common, feedback, questions
from bot.middlewares import ServicesMiddleware
from bot.runtime.telegram_retry import RetryTransientErrors
from knowledge_base.encoders.base import TextEncoder, model_version, recommended_lexical_weight
from knowledge_base.encoders.base_models import MULTILINGUAL_E5, RECOMMENDED_THRESHOLDS
from knowledge_base.encoders.loading import load_encoder
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.training.registry import ActiveModel, ModelRegistry

log = logging.getLogger(__name__)

# Used when neither the settings nor the model directory name thresholds (a hub id, say):
# those of the default model family, multilingual e5.
FALLBACK_THRESHOLDS = Thresholds(**RECOMMENDED_THRESHOLDS[MULTILINGUAL_E5])


@dataclass
class Resources:
    settings: Settings
    db_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    search: SearchEngine
    # The process's one question log: every question shares its batches.
    answer_log: AnswerLog

    async def close(self) -> None:
        await self.db_engine.dispose()


def resolve_thresholds(settings: Settings, encoder: TextEncoder) -> Thresholds:
    recommended = encoder.recommended
    answer = settings.search.answer_threshold
    suggest = settings.search.suggest_threshold
    return Thresholds(
        answer=answer
        if answer is not None
        else recommended.get("answer", FALLBACK_THRESHOLDS.answer),
        suggest=(
            suggest
            if suggest is not None
            else recommended.get("suggest", FALLBACK_THRESHOLDS.suggest)
        ),
    )


def resolve_lexical_weight(settings: Settings, encoder: TextEncoder) -> float:
    """SEARCH__LEXICAL_WEIGHT if set, else the model's recommendation, else off."""
    configured = settings.search.lexical_weight
    if configured is not None:
        return configured
    recommended = recommended_lexical_weight(encoder.path)
    return 0.0 if recommended is None else recommended


async def active_model(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> ActiveModel:
    """The model that should answer: the active trained version, else MODEL__PATH."""
    async with session_factory() as session:
        registry = ModelRegistry(session, settings.model.models_dir)
        return await registry.active_model(settings.model.resolved_path())


async def build_resources(settings: Settings, encoder: TextEncoder | None = None) -> Resources:
    """Open the database, load the active model (in a thread), build the index from the cache."""
    db_engine = create_engine(settings.database_url)
    session_factory = create_session_factory(db_engine)
    if encoder is None:
        model = await active_model(settings, session_factory)
        encoder = await asyncio.to_thread(
            load_encoder,
            model.path,
            settings.model.backend,
            settings.model.allow_hub,
            settings.model.threads,
        )
    search = SearchEngine(
        encoder,
        resolve_thresholds(settings, encoder),
        settings.search.suggestions,
        settings.search.learned_top_k,
        resolve_lexical_weight(settings, encoder),
    )
    await search.rebuild(session_factory)
    return Resources(settings, db_engine, session_factory, search, AnswerLog(session_factory))


def create_bot(settings: Settings) -> Bot:
    """The Bot API client: HTML replies, and the official server unless one is configured."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else None
    )
    bot = Bot(
        settings.bot_token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    bot.session.middleware(RetryTransientErrors())
    return bot


def create_dispatcher(resources: Resources) -> Dispatcher:
    """The production wiring, shared by `faqbot run` and the end-to-end tests."""
    dp = Dispatcher(settings=resources.settings)
    services = ServicesMiddleware(
        resources.session_factory,
        resources.search,
        resources.answer_log,
        resources.settings.admin_ids,
        resources.settings.model.models_dir,
    )
    dp.message.outer_middleware(services)
    dp.callback_query.outer_middleware(services)
    # A help desk answers one person at a time: in groups the bot stays silent.
    dp.message.filter(F.chat.type == ChatType.PRIVATE)
    dp.errors.register(common.on_error)
    refresher = IndexRefresher(resources)
    # An admin's change is served at once, not at the next periodic look.
    dp["index"] = refresher
    dp.startup.register(refresher.start)
    dp.shutdown.register(refresher.stop)
    training = TrainingRun()
    dp["training"] = training
    dp.shutdown.register(training.stop)
    # Order matters: admins first (one filter on their router), then the refusal of admin
    # commands to anyone else; the questions router takes every remaining text, so it is last.
    dp.include_routers(
        admin.create_router(resources.settings.admin_ids),
        admin.create_refusals_router(),
        common.create_router(),
        feedback.create_router(),
        questions.create_router(),
    )
    return dp


class IndexRefresher:
    """Keeps the serving snapshot in step with the database while the bot polls: articles
    another process changed, and a newly active model (trained, activated, rolled back)."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._task: asyncio.Task[None] | None = None
        self._failed_version: str | None = None
        self._missing: Path | None = None

    async def start(self) -> None:
        if self._resources.settings.index_refresh_seconds > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        resources = self._resources
        while True:
            await asyncio.sleep(resources.settings.index_refresh_seconds)
            try:
                await self.refresh()
            except Exception:  # a locked database or a broken model is no reason to stop serving
                log.exception("refresh failed; the previous model and index keep serving")

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
                encoder = await asyncio.to_thread(
                    load_encoder,
                    model.path,
                    resources.settings.model.backend,
                    resources.settings.model.allow_hub,
                    resources.settings.model.threads,
                )
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
