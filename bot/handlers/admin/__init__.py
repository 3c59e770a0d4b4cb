"""The admin console: admins' routers behind one filter, and the refusal of everyone else."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.handlers.admin import (
    add,
    articles,
    audit,
    files,
    inbox,
    learned,
    model,
    settings,
    stats,
)
from bot.keyboards import ADMIN_PREFIXES
from bot.texts import admin as admin_texts
from bot.texts import user as texts

log = logging.getLogger(__name__)

COMMANDS = (
    "add",
    "articles",
    "archive",
    "audit",
    "cancel",
    "export",
    "learned",
    "model",
    "retrain",
    "settings",
    "stats",
    "unanswered",
)


def create_router(admin_ids: frozenset[int]) -> Router:
    """Admins' router: every handler inside sees only the ids in ADMIN_IDS."""
    router = Router(name="admin")
    is_admin = F.from_user.id.in_(admin_ids)
    router.message.filter(is_admin)
    router.callback_query.filter(is_admin)
    # /cancel lives in the articles router, ahead of the dialogs' state handlers.
    router.include_routers(
        articles.create_router(),
        add.create_router(),
        audit.create_router(),
        files.create_router(),
        model.create_router(),
        inbox.create_router(),
        learned.create_router(),
        stats.create_router(),
        settings.create_router(),
    )
    return router


async def refuse_command(message: Message) -> None:
    """Answers an admin command from anyone else as an unknown one (it reveals nothing)."""
    user = message.from_user.id if message.from_user else None
    log.warning("refused: %s from %s, who is not an admin", (message.text or "")[:40], user)
    await message.answer(texts.UNKNOWN_COMMAND)


async def refuse_button(query: CallbackQuery) -> None:
    """An admin button pressed by anyone else: refused, nothing changes."""
    log.warning("refused: button %s from %s, who is not an admin", query.data, query.from_user.id)
    await query.answer(admin_texts.NOT_FOR_YOU, show_alert=True)


def create_refusals_router() -> Router:
    """Goes after the admin router: what reaches it was not from an admin."""
    router = Router(name="admin-refusals")
    router.message.register(refuse_command, Command(*COMMANDS))
    router.callback_query.register(
        refuse_button, F.data.func(lambda data: data.startswith(ADMIN_PREFIXES))
    )
    return router
