"""/articles, /archive and /audit: the base page by page, each article's card and its edits."""

from __future__ import annotations

import math
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot import keyboards
from bot.handlers import IndexUpdater
from bot.handlers.admin.dialogs import (
    NOT_A_COMMAND,
    begin_dialog,
    drop_paused,
    expired,
    formatted,
    leave_dialog,
    need_text,
    pause_on_command,
    paused_draft,
    tell_paused,
    typed_lines,
    typed_text,
    typed_title,
)
from bot.keyboards import (
    ADMIN_PAGE_SIZE,
    AdminAction,
    AdminCard,
    AdminDeletePhrasing,
    AdminPage,
)
from bot.notifications import edit_in_place
from bot.states import AddArticle, EditArticle
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.audit import AuditTrail
from knowledge_base.telegram_html import body_beside

AUDIT_DEFAULT, AUDIT_MAX = 10, 50
# Filters of this many recent lists are remembered (per admin).
LISTS_KEPT = 20


async def list_articles(
    message: Message, command: CommandObject, editor: ArticleEditor, state: FSMContext
) -> None:
    """/articles [слова]: the base, ten a page, filtered by words in the title or text."""
    words = (command.args or "").strip()
    await state.set_state(None)  # another screen: an edit left half-way is dropped
    await _show_page(message, editor, words, 0, archived=False, edit=False, state=state)


async def list_archive(message: Message, editor: ArticleEditor, state: FSMContext) -> None:
    """/archive: the archived articles, each with «Вернуть» on its card."""
    await state.set_state(None)
    await _show_page(message, editor, "", 0, archived=True, edit=False, state=state)


async def turn_page(
    query: CallbackQuery, callback_data: AdminPage, editor: ArticleEditor, state: FSMContext
) -> None:
    """Another page of the list (the filter is the one this list was opened with)."""
    lists = (await state.get_data()).get("lists", {})
    words = str(lists.get(str(query.message.message_id), "")) if query.message else ""
    if isinstance(query.message, Message):
        await _show_page(
            query.message, editor, words, callback_data.page, callback_data.archived, edit=True
        )
    await query.answer()


async def _show_page(
    message: Message,
    editor: ArticleEditor,
    words: str,
    page: int,
    archived: bool,
    edit: bool,
    state: FSMContext | None = None,
) -> None:
    items, total = await editor.page(words, page, ADMIN_PAGE_SIZE, archived=archived)
    if not total:
        empty = admin_texts.NO_ARCHIVED if archived else admin_texts.NO_ARTICLES
        text = admin_texts.NO_ARTICLES_FOR.format(words=escape(words)) if words else empty
        await (message.edit_text(text) if edit else message.answer(text))
        return
    pages = max(1, math.ceil(total / ADMIN_PAGE_SIZE))
    page = min(page, pages - 1)
    if not items:  # the page ran past the end (articles were archived meanwhile)
        items, total = await editor.page(words, page, ADMIN_PAGE_SIZE, archived=archived)
    text = admin_texts.articles_page(words, total, page, pages, archived)
    markup = keyboards.articles_page([(a.id, a.title) for a in items], page, pages, archived)
    if edit:
        await edit_in_place(message, text, markup)
        return
    sent = await message.answer(text, reply_markup=markup)
    if state is not None and words:
        # Each list keeps its own filter: an older list's «Дальше ›» is not the newest's.
        lists = dict((await state.get_data()).get("lists", {}))
        lists[str(sent.message_id)] = words
        await state.update_data(lists=dict(list(lists.items())[-LISTS_KEPT:]))


async def open_card(query: CallbackQuery, callback_data: AdminCard, editor: ArticleEditor) -> None:
    """An article's card: its text, phrasings with their source, and its numbers."""
    if await _send_card(query, editor, callback_data.article_id, apart=callback_data.apart):
        await query.answer()
    else:
        await query.answer(admin_texts.ARTICLE_MISSING, show_alert=True)


async def _send_card(
    query: CallbackQuery, editor: ArticleEditor, article_id: int, apart: bool = False
) -> bool:
    """Shows the card in place of the message pressed; False if the article is gone.
    Telegram takes one answer per press: the caller gives it."""
    card = await editor.card(article_id)
    if card is None:
        return False
    article = card.article
    text = admin_texts.card(
        article.title,
        article.body,
        category=article.category,
        archived=article.archived,
        phrasings=[(p.text, p.source) for p in card.phrasings],
        answered=card.answered,
        helpful=card.helpful,
        not_helpful=card.not_helpful,
    )
    markup = keyboards.article_card(article.id, article.archived)
    if isinstance(query.message, Message) and not apart:
        await edit_in_place(query.message, text, markup)
    elif query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.answer(text, reply_markup=markup)
    return True


async def card_action(
    query: CallbackQuery,
    callback_data: AdminAction,
    editor: ArticleEditor,
    state: FSMContext,
    index: IndexUpdater,
) -> None:
    """A button on a card: archive, restore, or start editing the title, text or phrasings."""
    article_id = callback_data.article_id
    card = await editor.card(article_id)
    if card is None:
        await query.answer(admin_texts.ARTICLE_MISSING, show_alert=True)
        return
    title = card.article.title
    action = callback_data.action
    if action in ("archive", "restore"):
        changed = await (editor.archive if action == "archive" else editor.restore)(article_id)
        if not changed:  # a second press, or an old card
            already = (
                admin_texts.ALREADY_ARCHIVED
                if action == "archive"
                else (admin_texts.ALREADY_RESTORED)
            )
            await query.answer(already)
            return
        await index.serve_changes()
        template = admin_texts.ARCHIVED if action == "archive" else admin_texts.RESTORED
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(admin_texts.done(template, title=title))
        await _send_card(query, editor, article_id)
        return
    if action == "phrasings":
        await _show_phrasings(query, editor, article_id, title)
        await query.answer()
        return
    asks = {
        "title": (EditArticle.title, admin_texts.ASK_TITLE),
        "body": (EditArticle.body, admin_texts.ASK_BODY),
        "add": (EditArticle.phrasings, admin_texts.ASK_PHRASINGS),
    }
    next_state, template = asks[action]
    paused = await begin_dialog(state, next_state, article_id=article_id)
    await query.answer()
    if isinstance(query.message, Message):
        await tell_paused(query.message, paused)
        await query.message.answer(admin_texts.ask(template, title))


async def _show_phrasings(
    query: CallbackQuery, editor: ArticleEditor, article_id: int, title: str
) -> None:
    """The phrasings screen in place of the message pressed (the caller answers the press)."""
    card = await editor.card(article_id)
    if card is None:
        return
    items = [(p.id, p.text, p.source) for p in card.phrasings]
    text = admin_texts.phrasings_header(title, len(items))
    if isinstance(query.message, Message):
        await edit_in_place(query.message, text, keyboards.phrasings(article_id, items))


async def delete_phrasing(
    query: CallbackQuery,
    callback_data: AdminDeletePhrasing,
    editor: ArticleEditor,
    index: IndexUpdater,
) -> None:
    """Deletes one phrasing (a learned one too: a wrong one must be undoable)."""
    deleted = await editor.delete_phrasing(callback_data.phrasing_id)
    if deleted is None:
        await query.answer(admin_texts.PHRASING_GONE, show_alert=True)
        return
    await index.serve_changes()
    await query.answer(admin_texts.alert(admin_texts.PHRASING_DELETED, text=deleted.text))
    card = await editor.card(deleted.article_id)
    if card is not None:
        await _show_phrasings(query, editor, deleted.article_id, card.article.title)


async def receive_title(
    message: Message, editor: ArticleEditor, state: FSMContext, index: IndexUpdater
) -> None:
    """The new title, typed after «Изменить заголовок»."""
    if await expired(message, state):
        return
    title = await typed_title(message)
    if title is None:
        return
    article_id = int((await state.get_data())["article_id"])
    if not await editor.rename(article_id, title):
        await message.answer(admin_texts.TITLE_TAKEN)
        return
    await state.set_state(None)
    await index.serve_changes()
    await message.answer(admin_texts.SAVED)


async def receive_body(
    message: Message, editor: ArticleEditor, state: FSMContext, index: IndexUpdater
) -> None:
    """The new text, typed after «Изменить текст»."""
    if await expired(message, state):
        return
    body = await typed_text(message)
    if body is None:
        return
    article_id = int((await state.get_data())["article_id"])
    await state.set_state(None)
    body_html = formatted(message)
    if not await editor.rewrite(article_id, body_beside(body_html, body), body_html):
        await message.answer(admin_texts.ARTICLE_MISSING)
        return
    await index.serve_changes()
    await message.answer(admin_texts.SAVED)


async def receive_phrasings(
    message: Message, editor: ArticleEditor, state: FSMContext, index: IndexUpdater
) -> None:
    """Phrasings, one a line, typed after «Добавить фразы»."""
    if await expired(message, state):
        return
    texts = await typed_lines(message)
    if texts is None:
        return
    article_id = int((await state.get_data())["article_id"])
    await state.set_state(None)
    added = await editor.add_phrasings(article_id, texts)
    await index.serve_changes()
    await message.answer(admin_texts.phrasings_added(added))


async def cancel(message: Message, state: FSMContext, editor: ArticleEditor) -> None:
    """/cancel: leaves whatever the admin was in the middle of, and says what: the open
    dialog, or else an /add draft paused by a command."""
    current = await state.get_state()
    if current in AddArticle.__all_states_names__:
        title = (await state.get_data()).get("title")
        await leave_dialog(state)
        await message.answer(admin_texts.add_cancelled(title))
        return
    if current is not None:
        data = await state.get_data()
        await leave_dialog(state)
        card = await editor.card(int(data["article_id"])) if "article_id" in data else None
        title = card.article.title if card else None
        await message.answer(admin_texts.cancelled(current.split(":", 1)[-1], title))
        return
    paused = await paused_draft(state)
    if paused is not None:
        await drop_paused(state)
        await message.answer(admin_texts.add_cancelled(paused.get("title")))
        return
    await message.answer(admin_texts.NOTHING_TO_CANCEL)


async def audit(
    message: Message, command: CommandObject, audit_trail: AuditTrail, editor: ArticleEditor
) -> None:
    """/audit [N]: the last N changes to the base (10 by default), newest first."""
    try:
        limit = min(max(int(command.args or AUDIT_DEFAULT), 1), AUDIT_MAX)
    except ValueError:
        limit = AUDIT_DEFAULT
    entries = await audit_trail.latest(limit)
    if not entries:
        await message.answer(admin_texts.NO_CHANGES)
        return
    titles = {}
    for entry in entries:
        if entry.article_id is not None and entry.article_id not in titles:
            card = await editor.card(entry.article_id)
            titles[entry.article_id] = card.article.title if card else "?"
    lines = [
        admin_texts.audit_line(
            entry.at.strftime("%d.%m %H:%M UTC"),
            entry.actor_id,
            entry.action,
            titles.get(entry.article_id or 0, "—"),
            entry.before,
            entry.after,
        )
        for entry in entries
    ]
    shown: list[str] = []
    for line in lines:  # whole lines, newest first, as many as one message holds
        if sum(len(x) + 1 for x in shown) + len(line) > 3900:
            break
        shown.append(line)
    await message.answer("\n".join(shown))


def create_router() -> Router:
    router = Router(name="admin-articles")
    # First of all admin handlers: a command during /add pauses the draft, then runs.
    router.message.register(
        pause_on_command, StateFilter(*AddArticle.__all_states__), F.text.startswith("/")
    )
    router.message.register(cancel, Command("cancel"))
    router.message.register(list_articles, Command("articles"))
    router.message.register(list_archive, Command("archive"))
    router.message.register(audit, Command("audit"))
    router.message.register(receive_title, StateFilter(EditArticle.title), NOT_A_COMMAND)
    router.message.register(receive_body, StateFilter(EditArticle.body), NOT_A_COMMAND)
    router.message.register(receive_phrasings, StateFilter(EditArticle.phrasings), NOT_A_COMMAND)
    router.message.register(
        need_text,
        StateFilter(EditArticle.title, EditArticle.body, EditArticle.phrasings),
        ~F.text,
    )
    router.callback_query.register(turn_page, AdminPage.filter())
    router.callback_query.register(open_card, AdminCard.filter())
    router.callback_query.register(card_action, AdminAction.filter())
    router.callback_query.register(delete_phrasing, AdminDeletePhrasing.filter())
    return router
