"""Per-update middleware: one database session and the services built on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleEditor, ArticleService
from knowledge_base.feedback import FeedbackService
from knowledge_base.search.service import SearchEngine, SearchService


class ServicesMiddleware(BaseMiddleware):
    """Opens a session per update, hands handlers `search`, `feedback`, `articles`, the
    admins' `editor` and the update's `message_key`, and commits once the handler is done
    (rolls back if it failed)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        engine: SearchEngine,
        admin_ids: frozenset[int] = frozenset(),
    ) -> None:
        self._session_factory = session_factory
        self._engine = engine
        self._admin_ids = admin_ids

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
            user = data.get("event_from_user")
            # The editor checks the admin again itself, whatever filter let the update in.
            data["editor"] = ArticleEditor(session, user.id if user else 0, self._admin_ids)
            result = await handler(event, data)
            await session.commit()
            return result
