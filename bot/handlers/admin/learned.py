"""/learned: confirmed questions an admin accepts as phrasings or rejects, one by one or all at
once (LEARNING__AUTO=false)."""

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
    # «Принять всё» covers what is counted here, up to the newest phrasing waiting now.
    newest = max(phrasing.id for phrasing, _ in waiting)
    await message.answer(
        admin_texts.learned_header(len(waiting)),
        reply_markup=keyboards.learned_all(newest) if len(waiting) > 1 else None,
    )
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
    if callback_data.action in ALL_ACTIONS:
        await decide_all(query, callback_data, editor, index)
        return
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


ALL_ACTIONS = frozenset({"ask_approve_all", "ask_reject_all", "approve_all", "reject_all", "keep"})


async def decide_all(
    query: CallbackQuery,
    callback_data: AdminLearned,
    editor: ArticleEditor,
    index: IndexUpdater,
) -> None:
    """«Принять всё» / «Отклонить всё» asks first, naming how many phrasings of how many
    articles; «Да, …» decides them in one transaction (accepted ones served at once). A
    second press finds nothing left to decide and says so."""
    action, newest = callback_data.action, callback_data.phrasing_id
    message = query.message if isinstance(query.message, Message) else None
    if action == "keep":
        await query.answer()
        if message is not None:
            await message.edit_text(admin_texts.LEARNED_ALL_KEPT, reply_markup=_NO_BUTTONS)
        return
    approve = action in ("ask_approve_all", "approve_all")
    if action.startswith("ask_"):
        waiting = [(p, title) for p, title in await editor.pending() if p.id <= newest]
        if not waiting:
            await query.answer(admin_texts.LEARNED_ALL_GONE, show_alert=True)
            return
        await query.answer()
        if message is not None:
            articles = len({p.article_id for p, _ in waiting})
            await message.answer(
                admin_texts.learned_all_confirm(approve, len(waiting), articles),
                reply_markup=keyboards.learned_all_confirm(approve, newest),
            )
        return
    decided = await editor.decide_all_pending(approve, newest)
    if not decided:
        await query.answer(admin_texts.LEARNED_ALL_GONE, show_alert=True)
        return
    await query.answer()
    if approve:
        await index.serve_changes()
    if message is not None:
        articles = len({p.article_id for p in decided})
        await message.edit_text(
            admin_texts.learned_all_done(approve, len(decided), articles),
            reply_markup=_NO_BUTTONS,
        )


_NO_BUTTONS = InlineKeyboardMarkup(inline_keyboard=[])


def create_router() -> Router:
    router = Router(name="admin-learned")
    router.message.register(show_learned, Command("learned"))
    router.callback_query.register(decide, AdminLearned.filter())
    return router
