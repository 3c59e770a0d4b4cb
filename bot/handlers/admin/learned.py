"""/learned: confirmed questions an admin accepts as phrasings or rejects (LEARNING__AUTO=false)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers import IndexUpdater
from bot.keyboards import AdminLearned
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor


async def show_learned(message: Message, editor: ArticleEditor, settings: Settings) -> None:
    """/learned: the waiting phrasings, oldest first, one message each with its buttons."""
    waiting = await editor.pending()
    if not waiting:
        auto = settings.learning.auto
        await message.answer(admin_texts.LEARNED_AUTO if auto else admin_texts.LEARNED_EMPTY)
        return
    await message.answer(admin_texts.learned_header(len(waiting)))
    for phrasing, title in waiting[: admin_texts.LEARNED_SHOWN]:
        await message.answer(
            admin_texts.learned_item(phrasing.text, title),
            reply_markup=keyboards.learned(phrasing.id),
        )


async def decide(
    query: CallbackQuery,
    callback_data: AdminLearned,
    editor: ArticleEditor,
    index: IndexUpdater,
) -> None:
    """✓ serves the phrasing at once; ✕ drops it. A second press finds it decided."""
    if callback_data.action == "approve":
        phrasing = await editor.approve(callback_data.phrasing_id)
    elif callback_data.action == "reject":
        phrasing = await editor.reject(callback_data.phrasing_id)
    else:
        phrasing = None
    if phrasing is None:
        await query.answer(admin_texts.LEARNED_GONE, show_alert=True)
        return
    await query.answer()
    if callback_data.action == "approve":
        await index.serve_changes()
        card = await editor.card(phrasing.article_id)
        done = admin_texts.approved(phrasing.text, card.article.title if card else "")
    else:
        done = admin_texts.rejected(phrasing.text)
    if isinstance(query.message, Message):
        await query.message.edit_text(done, reply_markup=InlineKeyboardMarkup(inline_keyboard=[]))


def create_router() -> Router:
    router = Router(name="admin-learned")
    router.message.register(show_learned, Command("learned"))
    router.callback_query.register(decide, AdminLearned.filter())
    return router
