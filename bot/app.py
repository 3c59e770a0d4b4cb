"""Builds the long-lived resources and the Dispatcher; `create_dispatcher` does no I/O."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Dispatcher, Router
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.handlers import common, feedback, questions
from bot.middlewares import ServicesMiddleware
from knowledge_base.db import create_engine, create_session_factory
from knowledge_base.encoder import Encoder
from knowledge_base.search import SearchEngine, Thresholds

log = logging.getLogger(__name__)

# Used when neither the settings nor the model directory name thresholds.
FALLBACK_THRESHOLDS = Thresholds(answer=0.86, suggest=0.80)


@dataclass
class Resources:
    settings: Settings
    db_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    search: SearchEngine

    async def close(self) -> None:
        await self.db_engine.dispose()


def resolve_thresholds(settings: Settings, encoder: Encoder) -> Thresholds:
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


async def build_resources(settings: Settings, encoder: Encoder | None = None) -> Resources:
    """Open the database, load the model (in a thread) and build the index from the cache."""
    db_engine = create_engine(settings.database_url)
    session_factory = create_session_factory(db_engine)
    if encoder is None:
        encoder = await asyncio.to_thread(Encoder, settings.model.resolved_path())
    search = SearchEngine(
        encoder, resolve_thresholds(settings, encoder), settings.search.suggestions
    )
    await search.rebuild(session_factory)
    return Resources(settings, db_engine, session_factory, search)


def create_dispatcher(resources: Resources) -> Dispatcher:
    """The production wiring, shared by `faqbot run` and the end-to-end tests."""
    dp = Dispatcher(
        settings=resources.settings,
        search_engine=resources.search,
    )
    services = ServicesMiddleware(resources.session_factory, resources.search)
    dp.message.outer_middleware(services)
    dp.callback_query.outer_middleware(services)
    # Order matters: questions.router catches every remaining text, so it goes last.
    handler_routers = (common.router, feedback.router, questions.router)
    for router in handler_routers:
        _release(router)
    dp.include_routers(*handler_routers)
    return dp


def _release(router: Router) -> None:
    # aiogram attaches a Router to one parent for life and has no public detach, while the
    # handler modules keep one Router each: without this a second Dispatcher in the same
    # process (each e2e test, the load benchmark) fails with "Router is already attached".
    # The older Dispatcher loses these handlers, so it must be done polling by now.
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
