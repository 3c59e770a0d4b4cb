"""Per-update middleware: one database session and the use cases built on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleEditor, ArticleService
from knowledge_base.audit import Actor, AuditTrail
from knowledge_base.digest import DigestService
from knowledge_base.feedback import FeedbackService
from knowledge_base.inbox import InboxService
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.service import SearchService
from knowledge_base.stats import StatsService
from knowledge_base.training.activation import ModelAdmin


class ServicesMiddleware(BaseMiddleware):
    """Opens a session per update and hands handlers its use cases by name: `search`,
    `feedback`, `articles`, `digests`, and for admins `editor`, `inbox`, `stats`,
    `audit_trail`, `models` (each checks the `actor` itself), plus the update's `message_key`
    and `afterwards`: what a handler leaves to be said once the update's handler is done (a
    dialog paused by a command says so after the command's own answer).

    Each use case commits its own change; this only closes the session when the handler is
    done, which rolls back whatever a failed handler left unfinished.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        engine: SearchEngine,
        answer_log: AnswerLog,
        admin_ids: frozenset[int],
        models_dir: Path,
        write_retry_seconds: float,
    ) -> None:
        self._session_factory = session_factory
        self._engine = engine
        self._answer_log = answer_log
        self._admin_ids = admin_ids
        self._models_dir = models_dir
        self._write_retry_seconds = write_retry_seconds

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
        user = data.get("event_from_user")
        actor = Actor(
            user.id if user else 0,
            self._admin_ids,
            first_name=(user.first_name or "") if user else "",
            username=(user.username or "") if user else "",
        )
        async with self._session_factory() as session:
            data["actor"] = actor
            data["search"] = SearchService(self._engine, self._answer_log, session)
            data["feedback"] = FeedbackService(session, self._write_retry_seconds)
            data["articles"] = ArticleService(session)
            data["editor"] = ArticleEditor(session, actor)
            data["inbox"] = InboxService(session, actor, self._engine)
            data["digests"] = DigestService(session)
            data["stats"] = StatsService(session, actor)
            data["audit_trail"] = AuditTrail(session, actor)
            data["models"] = ModelAdmin(session, self._models_dir, actor)
            afterwards: list[Callable[[], Awaitable[object]]] = []
            data["afterwards"] = afterwards
            result = await handler(event, data)
            for say in afterwards:
                await say()
            return result
