"""/add: a new article step by step, previewed as people will see it, near copies flagged."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
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
    formatted,
    leave_dialog,
    need_text,
    typed_lines,
    typed_text,
    typed_title,
)
from bot.keyboards import AdminAdd
from bot.states import AddArticle
from bot.texts import admin as admin_texts
from bot.texts import user as user_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.inbox import InboxService
from knowledge_base.search.service import SearchService
from knowledge_base.telegram_html import body_beside
from knowledge_base.types import ArticleDraft


async def start(message: Message, state: FSMContext) -> None:
    """/add: asks for the title."""
    await leave_dialog(state)
    await begin_dialog(state, AddArticle.title)
    await message.answer(admin_texts.ADD_TITLE)


async def receive_title(message: Message, state: FSMContext, editor: ArticleEditor) -> None:
    if await expired(message, state):
        return
    title = await typed_title(message)
    if title is None:
        return
    if await editor.title_taken(title):
        await message.answer(admin_texts.ADD_TITLE_TAKEN)
        return
    await state.update_data(title=title)
    await state.set_state(AddArticle.body)
    await message.answer(admin_texts.ask(admin_texts.ADD_BODY, title))


async def receive_body(message: Message, state: FSMContext) -> None:
    if await expired(message, state):
        return
    body = await typed_text(message)
    if body is None:
        return
    body_html = formatted(message)
    await state.update_data(body=body_beside(body_html, body), body_html=body_html)
    await state.set_state(AddArticle.phrasings)
    await message.answer(admin_texts.ADD_PHRASINGS, reply_markup=keyboards.add_skip_phrasings())


async def receive_phrasings(
    message: Message, state: FSMContext, search: SearchService, settings: Settings
) -> None:
    if await expired(message, state):
        return
    phrasings = await typed_lines(message)
    if phrasings is None:
        return
    await state.update_data(phrasings=phrasings)
    await _preview(message, state, search, settings)


def _with_seed(data: dict[str, Any], phrasings: list[str]) -> list[str]:
    """The phrasings typed, after the question an /unanswered group started the dialog with."""
    return list(dict.fromkeys([*data.get("seed", []), *phrasings]))


async def skip_phrasings(
    query: CallbackQuery, state: FSMContext, search: SearchService, settings: Settings
) -> None:
    await query.answer()
    if await state.get_state() != AddArticle.phrasings.state or not isinstance(
        query.message, Message
    ):
        return
    await state.update_data(phrasings=[])
    await _preview(query.message, state, search, settings)


async def _preview(
    message: Message, state: FSMContext, search: SearchService, settings: Settings
) -> None:
    data = await state.get_data()
    title, body = str(data["title"]), str(data["body"])
    phrasings = _with_seed(data, list(data["phrasings"]))
    similar = await search.closest([title, *phrasings])
    close = similar if similar and similar.score >= settings.admin_similar_threshold else None
    await state.set_state(AddArticle.preview)
    await message.answer(admin_texts.ADD_PREVIEW)
    await message.answer(user_texts.article(title, body, data.get("body_html")))
    lines = [admin_texts.add_summary(phrasings)]
    if close is not None:
        lines.append(admin_texts.similar(close.title, close.score))
    await message.answer(
        "\n\n".join(lines),
        reply_markup=keyboards.add_preview((close.article_id, close.title) if close else None),
    )


async def finish(
    query: CallbackQuery,
    callback_data: AdminAdd,
    state: FSMContext,
    editor: ArticleEditor,
    inbox: InboxService,
    index: IndexUpdater,
    bot: Bot,
) -> None:
    """«Сохранить» (or «Сохранить всё равно») stores the article; «Отмена» drops it."""
    if callback_data.step == "skip":
        return
    message = query.message if isinstance(query.message, Message) else None
    if await state.get_state() != AddArticle.preview.state or message is None:
        await query.answer(admin_texts.ADD_STALE, show_alert=True)
        return
    await query.answer()
    if await expired(message, state):
        return
    data = await state.get_data()
    await leave_dialog(state)
    if callback_data.step == "cancel":
        await message.edit_text(admin_texts.CANCELLED)
        return
    draft = ArticleDraft(
        str(data["title"]),
        str(data["body"]),
        tuple(_with_seed(data, list(data["phrasings"]))),
        body_html=data.get("body_html"),
    )
    article = await editor.create(draft)
    if article is None:
        await message.edit_text(admin_texts.ADD_TITLE_TAKEN)
        return
    await index.serve_changes()
    await message.edit_text(admin_texts.done(admin_texts.ADD_SAVED, title=article.title))
    if data.get("inbox_queries"):
        # Started from an /unanswered group: its people get the new article.
        queries = [int(q) for q in data["inbox_queries"]]
        await attach_and_tell(
            message, queries, article.id, inbox=inbox, editor=editor, bot=bot, index=index
        )


def create_router() -> Router:
    router = Router(name="admin-add")
    router.message.register(start, Command("add"))
    router.message.register(receive_title, StateFilter(AddArticle.title), NOT_A_COMMAND)
    router.message.register(receive_body, StateFilter(AddArticle.body), NOT_A_COMMAND)
    router.message.register(receive_phrasings, StateFilter(AddArticle.phrasings), NOT_A_COMMAND)
    router.message.register(
        need_text, StateFilter(AddArticle.title, AddArticle.body, AddArticle.phrasings), ~F.text
    )
    router.callback_query.register(skip_phrasings, AdminAdd.filter(F.step == "skip"))
    router.callback_query.register(finish, AdminAdd.filter())
    return router
