"""/unanswered: open questions by meaning, attached, made into articles or dismissed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers import IndexUpdater
from bot.handlers.admin.dialogs import (
    NOT_A_COMMAND,
    attach_and_tell,
    begin_dialog,
    expired,
    mark_card,
    pause_draft,
    paused_draft,
    tell_paused,
)
from bot.keyboards import AdminInbox, AdminInboxUndo, AdminOpenInbox
from bot.notifications import edit_in_place, send_unasked
from bot.states import AddArticle, ChooseArticle
from bot.texts import admin as admin_texts
from bot.texts import user as user_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.inbox import InboxService
from knowledge_base.search.service import SearchService

# Groups shown at once, largest first.
GROUPS_SHOWN = 10


async def show_inbox(message: Message, inbox: InboxService, state: FSMContext) -> None:
    """/unanswered: the open questions, one message per group, each with its buttons."""
    if await state.get_state() == ChooseArticle.words.state:
        await state.set_state(None)  # a new list: words typed next are no article search
    groups = await inbox.groups()
    if not groups:
        await message.answer(admin_texts.INBOX_EMPTY)
        return
    total = sum(g.size for g in groups)
    await message.answer(admin_texts.inbox_header(total, len(groups)))
    shown: dict[str, Any] = {}
    for number, group in enumerate(groups[:GROUPS_SHOWN], 1):
        token = secrets.token_hex(4)
        closest = group.closest
        shown[token] = {
            "queries": [q.query_id for q in group.questions],
            "article": closest.article_id if closest else None,
            "title": closest.title if closest else None,
            "first": group.questions[0].text,
            "people": len(group.askers),
        }
        text = admin_texts.inbox_group(
            number,
            [(q.text, q.reason) for q in group.questions],
            len(group.askers),
            (closest.title, group.confident) if closest else None,
            weak=group.weak,
            rejected=group.rejected,
        )
        card = await message.answer(
            text,
            reply_markup=keyboards.inbox_group(
                token, closest.title if closest else None, weak=group.weak
            ),
        )
        # The card, edited once the group is handled: (chat, message, its text).
        shown[token]["card"] = [card.chat.id, card.message_id, text]
    await state.update_data(groups=shown)


async def act_on_group(
    query: CallbackQuery,
    callback_data: AdminInbox,
    state: FSMContext,
    *,
    inbox: InboxService,
    editor: ArticleEditor,
    bot: Bot,
    index: IndexUpdater,
    search: SearchService,
    settings: Settings,
) -> None:
    """A group's button: attach (to the closest article or a chosen one: asked first, then
    confirmed or kept), choose another article, create an article from the group, or dismiss
    it (asked first: tell the askers, quietly, or keep it)."""
    groups = dict((await state.get_data()).get("groups", {}))
    group = groups.get(callback_data.token)
    message = query.message if isinstance(query.message, Message) else None
    if group is None or message is None:
        await query.answer(admin_texts.INBOX_GONE, show_alert=True)
        return
    query_ids = [int(q) for q in group["queries"]]
    if callback_data.action == "create" and not await inbox.still_open(query_ids):
        # Handled meanwhile (an article already created from it): no second article.
        await query.answer(admin_texts.INBOX_GONE, show_alert=True)
        return
    await query.answer()
    target = callback_data.article or group.get("article")
    if callback_data.action == "choose" or (callback_data.action == "attach" and not target):
        closest = await search.rank(str(group["first"]), admin_texts.CHOOSE_SHOWN)
        paused = await begin_dialog(state, ChooseArticle.words, choosing=callback_data.token)
        await tell_paused(message, paused)
        await message.answer(
            admin_texts.choose_article(str(group["first"])),
            reply_markup=keyboards.inbox_targets(
                callback_data.token, [(m.article_id, m.title) for m in closest]
            ),
        )
        return
    if callback_data.action == "create":
        seed = {
            "seed": [str(group["first"])],
            "inbox_queries": query_ids,
            "inbox_card": group.get("card"),
        }
        await pause_draft(state)
        paused = await paused_draft(state)
        if paused is not None:
            # One draft at a time: continue the kept one, or start this group's article.
            await state.update_data(pending_new=seed)
            title = paused.get("title")
            await message.answer(
                admin_texts.add_draft_waits(title),
                reply_markup=keyboards.add_resume(title, start_over=True),
            )
            return
        await begin_dialog(state, AddArticle.title, **seed)
        await message.answer(
            admin_texts.create_from_group(str(group["first"]), len(query_ids)),
            reply_markup=keyboards.add_step("title"),
        )
        return
    if callback_data.action == "dismiss":
        await message.answer(
            admin_texts.DISMISS_ASK, reply_markup=keyboards.inbox_dismiss(callback_data.token)
        )
        return
    if callback_data.action == "keep":
        await edit_in_place(message, admin_texts.KEPT, None)
        return
    if callback_data.action in ("tell", "quiet"):
        dismissed = await inbox.dismiss(query_ids, tell=callback_data.action == "tell")
        await _forget_group(state, callback_data.token)
        if not dismissed.count:
            await edit_in_place(message, admin_texts.INBOX_GONE, None)
            return
        told = None
        if callback_data.action == "tell":
            told = 0
            for user_id, question in dismissed.people:
                told += await send_unasked(bot, user_id, user_texts.off_topic(question))
        await edit_in_place(message, admin_texts.dismissed(dismissed.count, told), None)
        await mark_card(bot, group.get("card"), admin_texts.CARD_DISMISSED)
        return
    if callback_data.action == "attach":
        await _ask_to_attach(message, callback_data.token, group, int(target), editor)
        return
    # «Да, привязать». The group is forgotten only once attached: an article archived
    # meanwhile, or a forged one, leaves it to be attached elsewhere.
    target = callback_data.article
    minutes = settings.inbox_undo_minutes
    if not minutes:
        if await attach_and_tell(
            message,
            query_ids,
            target,
            inbox=inbox,
            editor=editor,
            bot=bot,
            index=index,
            card=group.get("card"),
        ):
            await _forget_group(state, callback_data.token)
        return
    notify_at = datetime.now(UTC) + timedelta(minutes=minutes)
    attached = await inbox.attach(query_ids, target, notify_at=notify_at)
    if not attached.count or attached.notice_id is None:
        await edit_in_place(message, admin_texts.INBOX_GONE, None)
        return
    await _forget_group(state, callback_data.token)
    await index.serve_changes()
    card = await editor.card(target)
    title = card.article.title if card is not None else ""
    await edit_in_place(
        message,
        admin_texts.attached_pending(title, attached.count, len(attached.people), minutes),
        keyboards.inbox_undo(attached.notice_id),
    )
    # Edited by the sender once the people are told.
    await inbox.remember_confirmation(attached.notice_id, message.chat.id, message.message_id)
    await mark_card(bot, group.get("card"), admin_texts.CARD_ATTACHED, title)


async def _ask_to_attach(
    message: Message, token: str, group: dict[str, Any], article_id: int, editor: ArticleEditor
) -> None:
    """«Привязать к …»: the article's start as people will see it, «Да, привязать» /
    «Отмена»."""
    card = await editor.card(article_id)
    if card is None or card.article.archived:
        await message.answer(admin_texts.ARTICLE_MISSING)
        return
    article = card.article
    start = user_texts.article_start(article.title, article.body, article.body_html)
    await message.answer(
        admin_texts.attach_confirm(
            article.title, len(group["queries"]), int(group.get("people", 0)), start
        ),
        reply_markup=keyboards.inbox_attach_confirm(token, article.id),
    )


async def undo_attach(
    query: CallbackQuery,
    callback_data: AdminInboxUndo,
    *,
    inbox: InboxService,
    index: IndexUpdater,
) -> None:
    """«Отменить» under an attachment: detached, nobody told; too late once they were."""
    detached = await inbox.detach(callback_data.notice)
    if detached is None:
        await query.answer(admin_texts.UNDO_TOO_LATE, show_alert=True)
        return
    await query.answer()
    await index.serve_changes()
    if isinstance(query.message, Message):
        await edit_in_place(query.message, admin_texts.undone(detached.title, detached.count), None)


async def _forget_group(state: FSMContext, token: str) -> None:
    groups = dict((await state.get_data()).get("groups", {}))
    groups.pop(token, None)
    await state.update_data(groups=groups)
    if await state.get_state() == ChooseArticle.words.state:
        await state.set_state(None)


async def choose_by_words(message: Message, editor: ArticleEditor, state: FSMContext) -> None:
    """Words typed after «Привязать к другой статье…»: the articles they find, as buttons."""
    if await expired(message, state):
        return
    token = str((await state.get_data()).get("choosing", ""))
    words = (message.text or "").strip()
    if not words:
        await message.answer(admin_texts.choose_none(""))
        return
    # Most relevant first: an exact title, then as the lexical search scores them.
    found, _ = await editor.page(words, 0, admin_texts.CHOOSE_SHOWN)
    if not found:
        await message.answer(admin_texts.choose_none(words))
        return
    await message.answer(
        admin_texts.choose_found(words),
        reply_markup=keyboards.inbox_targets(token, [(a.id, a.title) for a in found]),
    )


async def open_inbox(query: CallbackQuery, inbox: InboxService, state: FSMContext) -> None:
    """«Открыть вопросы без ответа» under a digest: /unanswered, as if typed."""
    await query.answer()
    if isinstance(query.message, Message):
        await show_inbox(query.message, inbox, state)


def create_router() -> Router:
    router = Router(name="admin-inbox")
    router.message.register(show_inbox, Command("unanswered"))
    router.callback_query.register(open_inbox, AdminOpenInbox.filter())
    router.message.register(choose_by_words, StateFilter(ChooseArticle.words), NOT_A_COMMAND)
    router.callback_query.register(act_on_group, AdminInbox.filter())
    router.callback_query.register(undo_attach, AdminInboxUndo.filter())
    return router
