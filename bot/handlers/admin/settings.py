"""/settings: an admin's own switches — for now, whether the digest (or per-event notices)
comes at all."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.keyboards import AdminDigestToggle
from bot.notifications import edit_in_place
from bot.texts import admin as admin_texts
from knowledge_base.digest import DigestService


async def show_settings(message: Message, digests: DigestService, settings: Settings) -> None:
    """/settings: the digest's state with a toggle."""
    admin_id = message.from_user.id if message.from_user else 0
    muted = admin_id in await digests.muted(frozenset({admin_id}))
    await message.answer(
        admin_texts.settings_screen(not muted, settings.admin_digest_minutes),
        reply_markup=keyboards.digest_settings(not muted),
    )


async def toggle_digest(
    query: CallbackQuery,
    callback_data: AdminDigestToggle,
    digests: DigestService,
    settings: Settings,
) -> None:
    """«Выключить сводку» / «Включить сводку»: sets it to what the button said (a double tap
    or an old screen sets the same state again, never flips it back)."""
    await digests.set_muted(query.from_user.id, not callback_data.on)
    await query.answer()
    if query.message is not None and isinstance(query.message, Message):
        await edit_in_place(
            query.message,
            admin_texts.settings_screen(callback_data.on, settings.admin_digest_minutes),
            keyboards.digest_settings(callback_data.on),
        )


def create_router() -> Router:
    router = Router(name="admin-settings")
    router.message.register(show_settings, Command("settings"))
    router.callback_query.register(toggle_digest, AdminDigestToggle.filter())
    return router
