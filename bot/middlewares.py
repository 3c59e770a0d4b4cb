"""Per-update middleware: one database session and the services built on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.feedback import FeedbackService
from knowledge_base.search import SearchEngine, SearchService


class ServicesMiddleware(BaseMiddleware):
    """Opens a session per update, hands handlers `search`, `feedback`, `articles` and the
    update's `message_key`, and commits once the handler is done (rolls back if it failed)."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], engine: SearchEngine
    ) -> None:
        self._session_factory = session_factory
        self._engine = engine

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = data.get("event_update")
        bot = data.get("bot")
        if update is not None and bot is not None:
            # The same update handled again after a crash logs nothing twice.
            data["message_key"] = f"telegram:{bot.id}:{update.update_id}"
        async with self._session_factory() as session:
            data["search"] = SearchService(self._engine, session)
            data["feedback"] = FeedbackService(session)
            data["articles"] = ArticleService(session)
            result = await handler(event, data)
            await session.commit()
            return result
