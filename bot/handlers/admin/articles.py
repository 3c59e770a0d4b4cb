"""/articles and /archive: the base page by page, each article's card, its category,
its edits (previewed before they are saved) and, once archived, its deletion for good."""

from __future__ import annotations

import math
import re
from html import escape
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message

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
    pressed_category,
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
    AdminEdit,
    AdminPage,
    AdminTopic,
)
from bot.notifications import edit_in_place
from bot.states import AddArticle, EditArticle
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.telegram_html import body_beside

# Filters of this many recent lists are remembered (per admin).
LISTS_KEPT = 20
# "/articles 42" and "/articles #42" open article 42.
ARTICLE_NUMBER = re.compile(r"#?(\d{1,18})")
# As the import allows (knowledge_base/io.py) and the column holds.
MAX_CATEGORY_CHARS = 100
# What an edit's step waits for, by the kind of edit.
EDIT_STEPS = {
    "title": EditArticle.title,
    "body": EditArticle.body,
    "phrasings": EditArticle.phrasings,
}
ASKS = {
    "title": admin_texts.ASK_TITLE,
    "body": admin_texts.ASK_BODY,
    "phrasings": admin_texts.ASK_PHRASINGS,
}


async def list_articles(
    message: Message, command: CommandObject, editor: ArticleEditor, state: FSMContext
) -> None:
    """/articles [слова | тема | номер]: the base, ten a page, with its categories; a number
    opens that article's card; a category's name lists that category; other words find
    the articles holding them, most relevant first."""
    words = " ".join((command.args or "").split())
    await state.set_state(None)  # another screen: an edit left half-way is dropped
    number = ARTICLE_NUMBER.fullmatch(words)
    if number is not None:
        view = await _card_view(editor, int(number.group(1)))
        if view is not None:
            await message.answer(view[0], reply_markup=view[1])
            return
        if words.startswith("#"):
            await message.answer(admin_texts.NO_SUCH_ID.format(article_id=number.group(1)))
            return
    await _show_page(message, editor, words, 0, archived=False, edit=False, state=state)


async def list_archive(message: Message, editor: ArticleEditor, state: FSMContext) -> None:
    """/archive: the archived articles, each with «Вернуть» and «Удалить навсегда» on its
    card."""
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
    category = await editor.category_named(words) if words else None
    # A category's name lists the category; other words are searched for.
    search = "" if category is not None else words

    async def fetch(at: int) -> tuple[list[Any], int]:
        return await editor.page(search, at, ADMIN_PAGE_SIZE, archived=archived, category=category)

    items, total = await fetch(page)
    if not total:
        if category is not None:
            text = admin_texts.NO_CATEGORY_ARTICLES.format(category=escape(category))
        elif ARTICLE_NUMBER.fullmatch(words):
            text = admin_texts.NO_SUCH_ID_NOR_WORDS.format(article_id=escape(words))
        elif words:
            text = admin_texts.NO_ARTICLES_FOR.format(words=escape(words))
        else:
            text = admin_texts.NO_ARCHIVED if archived else admin_texts.NO_ARTICLES
        await (message.edit_text(text) if edit else message.answer(text))
        return
    pages = max(1, math.ceil(total / ADMIN_PAGE_SIZE))
    page = min(page, pages - 1)
    if not items:  # the page ran past the end (articles were archived meanwhile)
        items, total = await fetch(page)
    if category is not None:
        text = admin_texts.category_page(category, total, page, pages)
    else:
        text = admin_texts.articles_page(words, total, page, pages, archived)
    if not words and not archived:
        text += "\n\n" + admin_texts.categories_line(await editor.categories())
    listed = [(a.id, admin_texts.listed(a.id, a.title)) for a in items]
    markup = keyboards.articles_page(listed, page, pages, archived)
    if edit:
        await edit_in_place(message, text, markup)
        return
    sent = await message.answer(text, reply_markup=markup)
    if state is not None and words:
        # Each list keeps its own filter: an older list's «Дальше ›» is not the newest's.
        lists = dict((await state.get_data()).get("lists", {}))
        lists[str(sent.message_id)] = words
        await state.update_data(lists=dict(list(lists.items())[-LISTS_KEPT:]))


async def _card_view(
    editor: ArticleEditor, article_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    """An article's card and its buttons; None if there is no such article."""
    card = await editor.card(article_id)
    if card is None:
        return None
    article = card.article
    text = admin_texts.card(
        article.title,
        article.body,
        number=article.id,
        body_html=article.body_html,
        category=article.category,
        archived=article.archived,
        phrasings=[(p.text, p.source) for p in card.phrasings],
        answered=card.answered,
        helpful=card.helpful,
        not_helpful=card.not_helpful,
    )
    return text, keyboards.article_card(article.id, article.archived, article.category)


async def open_card(query: CallbackQuery, callback_data: AdminCard, editor: ArticleEditor) -> None:
    """An article's card: its text as people see it, category, phrasings with their source,
    and its numbers."""
    if await _send_card(query, editor, callback_data.article_id, apart=callback_data.apart):
        await query.answer()
    else:
        await query.answer(admin_texts.ARTICLE_MISSING, show_alert=True)


async def _send_card(
    query: CallbackQuery, editor: ArticleEditor, article_id: int, apart: bool = False
) -> bool:
    """Shows the card in place of the message pressed; False if the article is gone.
    Telegram takes one answer per press: the caller gives it."""
    view = await _card_view(editor, article_id)
    if view is None:
        return False
    text, markup = view
    if isinstance(query.message, Message) and not apart:
        await edit_in_place(query.message, text, markup)
    elif query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.answer(text, reply_markup=markup)
    return True


async def _refresh_card(
    bot: Bot, message: Message, editor: ArticleEditor, article_id: int, where: Any
) -> bool:
    """After an edit typed in a message of its own: the card message the edit began from
    (`where`: {"chat", "message"}) shows the article as it is now. If that message cannot be
    edited (deleted, too old, unknown), a fresh card is sent; False then."""
    view = await _card_view(editor, article_id)
    if view is None:
        return False
    text, markup = view
    if isinstance(where, dict) and "chat" in where and "message" in where:
        try:
            await bot.edit_message_text(
                text=text,
                chat_id=int(where["chat"]),
                message_id=int(where["message"]),
                reply_markup=markup,
            )
            return True
        except TelegramBadRequest as error:
            if "message is not modified" in str(error):
                return True
    await message.answer(text, reply_markup=markup)
    return False


def _where(query: CallbackQuery) -> dict[str, int] | None:
    """The card message pressed, to refresh once the edit is saved (JSON, for the FSM)."""
    if not isinstance(query.message, Message):
        return None
    return {"chat": query.message.chat.id, "message": query.message.message_id}


async def card_action(
    query: CallbackQuery,
    callback_data: AdminAction,
    editor: ArticleEditor,
    state: FSMContext,
    index: IndexUpdater,
) -> None:
    """A button on a card: archive, restore, choose a category, delete for good (an archived
    article, after a question), or start editing the title, text or phrasings."""
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
    if action in ("delete", "purge"):
        await _delete(query, editor, index, article_id, title, card.article.archived, action)
        return
    if action == "phrasings":
        await _show_phrasings(query, editor, article_id, title)
        await query.answer()
        return
    if action == "category":
        await begin_dialog(state, EditArticle.category, article_id=article_id, card=_where(query))
        await query.answer()
        if isinstance(query.message, Message):
            await edit_in_place(
                query.message,
                admin_texts.ask_category(title, card.article.category),
                keyboards.topic_choice(
                    article_id, card.article.category, await editor.category_holders()
                ),
            )
        return
    kind = {"title": "title", "body": "body", "add": "phrasings"}[action]
    paused = await begin_dialog(
        state, EDIT_STEPS[kind], article_id=article_id, kind=kind, card=_where(query)
    )
    await query.answer()
    if isinstance(query.message, Message):
        await tell_paused(query.message, paused)
        await query.message.answer(admin_texts.ask(ASKS[kind], title))


async def _delete(
    query: CallbackQuery,
    editor: ArticleEditor,
    index: IndexUpdater,
    article_id: int,
    title: str,
    archived: bool,
    action: str,
) -> None:
    """«Удалить навсегда» asks first, naming what goes with the article; the confirmation
    deletes it. Only an archived article: an active one is archived first."""
    if not archived:
        await query.answer(admin_texts.DELETE_ONLY_ARCHIVED, show_alert=True)
        return
    if action == "delete":
        phrasings, votes, questions = await editor.ties(article_id)
        await query.answer()
        if isinstance(query.message, Message):
            await edit_in_place(
                query.message,
                admin_texts.confirm_delete(title, phrasings, votes, questions),
                keyboards.delete_confirm(article_id),
            )
        return
    deleted = await editor.delete(article_id)
    if deleted is None:
        await query.answer(admin_texts.ARTICLE_MISSING, show_alert=True)
        return
    await index.serve_changes()
    await query.answer()
    if isinstance(query.message, Message):
        await edit_in_place(
            query.message,
            admin_texts.done(admin_texts.DELETED, title=deleted.title),
            keyboards.back_to_archive(),
        )


async def choose_topic(
    query: CallbackQuery,
    callback_data: AdminTopic,
    editor: ArticleEditor,
    state: FSMContext,
) -> None:
    """A category pressed under «Тема: …» (or «Без темы»): set, and the card shown again."""
    category = await pressed_category(editor, callback_data.like, callback_data.tag)
    if category is None:
        await query.answer(admin_texts.STALE_TOPIC, show_alert=True)
        return
    if not await editor.set_category(callback_data.article_id, category):
        await query.answer(admin_texts.ARTICLE_MISSING, show_alert=True)
        return
    data = await state.get_data()
    if await state.get_state() == EditArticle.category.state and data.get("article_id") == (
        callback_data.article_id
    ):
        await leave_dialog(state)
    card = await editor.card(callback_data.article_id)
    title = card.article.title if card else ""
    await query.answer(admin_texts.alert(admin_texts.category_set(title, category)))
    await _send_card(query, editor, callback_data.article_id)


async def receive_category(
    message: Message, bot: Bot, editor: ArticleEditor, state: FSMContext
) -> None:
    """A new category, typed after «Тема: …»: set, and the card shown again."""
    if await expired(message, state):
        return
    category = " ".join((message.text or "").split())
    if not category:
        await need_text(message)
        return
    if len(category) > MAX_CATEGORY_CHARS:
        await message.answer(admin_texts.CATEGORY_TOO_LONG)
        return
    # An existing category typed in other letters' case is that category, not a second one.
    category = await editor.category_named(category) or category
    data = await state.get_data()
    article_id = int(data["article_id"])
    await leave_dialog(state)
    if not await editor.set_category(article_id, category):
        await message.answer(admin_texts.ARTICLE_MISSING)
        return
    card = await editor.card(article_id)
    await message.answer(admin_texts.category_set(card.article.title if card else "", category))
    await _refresh_card(bot, message, editor, article_id, data.get("card"))


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


async def _preview(
    message: Message, editor: ArticleEditor, state: FSMContext, pending: dict[str, Any]
) -> None:
    """The edit typed, shown as people will get it, with «Сохранить» / «Изменить ещё раз» /
    «Отмена»; nothing is stored until «Сохранить»."""
    article_id = int((await state.get_data())["article_id"])
    card = await editor.card(article_id)
    if card is None:
        await leave_dialog(state)
        await message.answer(admin_texts.ARTICLE_MISSING)
        return
    article = card.article
    if "phrasings" in pending:
        text = admin_texts.preview_phrasings(article.title, list(pending["phrasings"]))
    elif "new_title" in pending:
        text = admin_texts.preview(
            admin_texts.PREVIEW_TITLE, pending["new_title"], article.body, article.body_html
        )
    else:
        text = admin_texts.preview(
            admin_texts.PREVIEW_BODY, article.title, pending["body"], pending["body_html"]
        )
    await state.set_state(EditArticle.preview)
    await state.update_data(pending=pending)
    await message.answer(text, reply_markup=keyboards.edit_preview(article_id))


async def receive_title(message: Message, editor: ArticleEditor, state: FSMContext) -> None:
    """The new title, typed after «Изменить заголовок»: previewed before it is saved."""
    if await expired(message, state):
        return
    title = await typed_title(message)
    if title is None:
        return
    article_id = int((await state.get_data())["article_id"])
    card = await editor.card(article_id)
    if card is not None and title != card.article.title and await editor.title_taken(title):
        await message.answer(admin_texts.TITLE_TAKEN)
        return
    await _preview(message, editor, state, {"new_title": title})


async def receive_body(message: Message, editor: ArticleEditor, state: FSMContext) -> None:
    """The new text, typed after «Изменить текст»: previewed before it is saved."""
    if await expired(message, state):
        return
    body = await typed_text(message)
    if body is None:
        return
    body_html = formatted(message)
    pending = {"body": body_beside(body_html, body), "body_html": body_html}
    await _preview(message, editor, state, pending)


async def receive_phrasings(message: Message, editor: ArticleEditor, state: FSMContext) -> None:
    """Phrasings, one a line, typed after «Добавить фразы»: previewed before they are
    saved."""
    if await expired(message, state):
        return
    texts = await typed_lines(message)
    if texts is None:
        return
    await _preview(message, editor, state, {"phrasings": texts})


async def waiting_for_choice(message: Message) -> None:
    """A message while a preview waits for its button."""
    await message.answer(admin_texts.PREVIEW_WAITING)


async def edit_choice(
    query: CallbackQuery,
    callback_data: AdminEdit,
    bot: Bot,
    editor: ArticleEditor,
    state: FSMContext,
    index: IndexUpdater,
) -> None:
    """«Сохранить», «Изменить ещё раз» or «Отмена» under an edit's preview. Saving refreshes
    the card the edit began from (or sends a fresh one)."""
    data = await state.get_data()
    pending = data.get("pending")
    if (
        await state.get_state() != EditArticle.preview.state
        or data.get("article_id") != callback_data.article_id
        or not isinstance(pending, dict)
        or not isinstance(query.message, Message)
    ):
        await query.answer(admin_texts.EDIT_STALE, show_alert=True)
        return
    message = query.message
    article_id = callback_data.article_id
    kind = str(data.get("kind", ""))
    card = await editor.card(article_id)
    if card is None:
        await leave_dialog(state)
        await query.answer(admin_texts.ARTICLE_MISSING, show_alert=True)
        return
    title = card.article.title
    if callback_data.action == "cancel":
        await leave_dialog(state)
        await query.answer()
        await edit_in_place(message, admin_texts.cancelled(kind, title), None)
        return
    if callback_data.action == "again":
        await state.set_state(EDIT_STEPS[kind])
        await state.update_data(pending=None)
        await query.answer()
        await edit_in_place(message, admin_texts.ask(ASKS[kind], title), None)
        return
    if "new_title" in pending:
        title = str(pending["new_title"])
        if not await editor.rename(article_id, title):
            await state.set_state(EditArticle.title)
            await query.answer(admin_texts.TITLE_TAKEN, show_alert=True)
            await edit_in_place(message, admin_texts.TITLE_TAKEN, None)
            return
    elif "body" in pending:
        await editor.rewrite(article_id, str(pending["body"]), pending.get("body_html"))
    else:
        await editor.add_phrasings(article_id, [str(p) for p in pending["phrasings"]])
    await leave_dialog(state)
    await index.serve_changes()
    await query.answer(admin_texts.SAVED)
    in_place = await _refresh_card(bot, message, editor, article_id, data.get("card"))
    await edit_in_place(message, admin_texts.edit_saved(kind, title, in_place), None)


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
        step = current.split(":", 1)[-1]
        if step == "preview":  # the preview of an edit: say which edit
            step = str(data.get("kind", step))
        await message.answer(admin_texts.cancelled(step, title))
        return
    paused = await paused_draft(state)
    if paused is not None:
        await drop_paused(state)
        await message.answer(admin_texts.add_cancelled(paused.get("title")))
        return
    await message.answer(admin_texts.NOTHING_TO_CANCEL)


def create_router() -> Router:
    router = Router(name="admin-articles")
    # First of all admin handlers: a command during /add pauses the draft, then runs.
    router.message.register(
        pause_on_command, StateFilter(*AddArticle.__all_states__), F.text.startswith("/")
    )
    router.message.register(cancel, Command("cancel"))
    router.message.register(list_articles, Command("articles"))
    router.message.register(list_archive, Command("archive"))
    router.message.register(receive_title, StateFilter(EditArticle.title), NOT_A_COMMAND)
    router.message.register(receive_body, StateFilter(EditArticle.body), NOT_A_COMMAND)
    router.message.register(receive_phrasings, StateFilter(EditArticle.phrasings), NOT_A_COMMAND)
    router.message.register(receive_category, StateFilter(EditArticle.category), NOT_A_COMMAND)
    router.message.register(
        need_text,
        StateFilter(
            EditArticle.title, EditArticle.body, EditArticle.phrasings, EditArticle.category
        ),
        ~F.text,
    )
    router.message.register(
        waiting_for_choice, StateFilter(EditArticle.preview), ~F.text.startswith("/")
    )
    router.callback_query.register(turn_page, AdminPage.filter())
    router.callback_query.register(open_card, AdminCard.filter())
    router.callback_query.register(card_action, AdminAction.filter())
    router.callback_query.register(delete_phrasing, AdminDeletePhrasing.filter())
    router.callback_query.register(choose_topic, AdminTopic.filter())
    router.callback_query.register(edit_choice, AdminEdit.filter())
    return router
