"""Builds the long-lived resources and the Dispatcher; `create_dispatcher` does no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatType, ParseMode
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.digest import AdminDigest
from bot.handlers import admin
from bot.handlers.user import common, feedback, questions
from bot.middlewares import ServicesMiddleware
from bot.runtime.model_choice import (
    active_model,
    load_model,
    resolve_lexical_weight,
    resolve_thresholds,
)
from bot.runtime.pacing import PaceSends
from bot.runtime.refresher import IndexRefresher
from bot.runtime.sending import ThreadedSendSession
from bot.runtime.telegram_retry import RetryTransientErrors
from bot.runtime.training import TrainingRun
from knowledge_base.encoders.base import TextEncoder
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.storage.engine import create_engine, create_session_factory


@dataclass
class Resources:
    """What a process keeps from start to exit: built by build_resources, closed at exit."""

    settings: Settings
    db_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    search: SearchEngine
    # The process's one question log: every question shares its batches.
    answer_log: AnswerLog

    async def close(self) -> None:
        await self.db_engine.dispose()


async def build_resources(settings: Settings, encoder: TextEncoder | None = None) -> Resources:
    """Open the database, load the active model (in a thread), build the index from the cache."""
    db_engine = create_engine(settings.database_url)
    session_factory = create_session_factory(db_engine)
    if encoder is None:
        model = await active_model(settings, session_factory)
        encoder = await load_model(settings, model.path)
    search = SearchEngine(
        encoder,
        resolve_thresholds(settings, encoder),
        settings.search.suggestions,
        settings.search.learned_top_k,
        resolve_lexical_weight(settings, encoder),
    )
    await search.rebuild(session_factory)
    answer_log = AnswerLog(session_factory, settings.db.write_retry_seconds)
    return Resources(settings, db_engine, session_factory, search, answer_log)


def create_bot(settings: Settings) -> Bot:
    """The Bot API client: HTML replies, and the official server unless one is configured."""
    session = (
        ThreadedSendSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else ThreadedSendSession()
    )
    bot = Bot(
        settings.bot_token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    bot.session.middleware(RetryTransientErrors())
    bot.session.middleware(PaceSends(settings.max_sends_in_flight))
    return bot


def create_dispatcher(
    resources: Resources, digest_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> Dispatcher:
    """The production wiring, shared by `faqbot run` and the end-to-end tests (which wait
    out the admins' digest period with `digest_sleep`, a fake clock's)."""
    dp = Dispatcher(settings=resources.settings)
    services = ServicesMiddleware(
        resources.session_factory,
        resources.search,
        resources.answer_log,
        resources.settings.admin_ids,
        resources.settings.model.models_dir,
        resources.settings.db.write_retry_seconds,
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
    # A new version promoted by /retrain answers at once, not at the next periodic look.
    training = TrainingRun(resources.settings, refresher.refresh)
    dp["training"] = training
    dp.shutdown.register(training.stop)
    # Admins hear of unanswered questions and 👎 in a periodic digest (or per event).
    digest = AdminDigest(
        resources.settings, resources.session_factory, resources.search, sleep=digest_sleep
    )
    dp["admin_digest"] = digest
    dp.startup.register(digest.start)
    dp.shutdown.register(digest.stop)
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
