"""/add: a new article step by step, previewed as people will see it, near copies flagged.

Every step has «« Назад» and «Отмена»; the preview can send the admin back to the title or
the text. A command typed mid-way pauses the draft (dialogs.pause_on_command); «Продолжить»
or /add brings it back at the step it was at."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers import IndexUpdater
from bot.handlers.admin.dialogs import (
    DRAFT_KEYS,
    NOT_A_COMMAND,
    attach_and_tell,
    begin_dialog,
    drop_paused,
    expired,
    formatted,
    leave_dialog,
    need_text,
    paused_draft,
    pressed_category,
    typed_lines,
    typed_text,
    typed_title,
)
from bot.keyboards import AdminAdd, AdminAddTopic
from bot.states import AddArticle
from bot.texts import admin as admin_texts
from bot.texts import user as user_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.inbox import InboxService
from knowledge_base.search.service import SearchService
from knowledge_base.telegram_html import body_beside
from knowledge_base.text_rules import MAX_CATEGORY_CHARS
from knowledge_base.types import ArticleDraft

STEPS = {
    "title": AddArticle.title,
    "body": AddArticle.body,
    "phrasings": AddArticle.phrasings,
    "preview": AddArticle.preview,
    "category": AddArticle.category,
}
# «« Назад» from a step goes to this one.
BACK = {"body": "title", "phrasings": "body", "preview": "phrasings", "category": "preview"}


def _step(state_name: str | None) -> str | None:
    """ "AddArticle:body" → "body"; None outside /add."""
    if state_name not in AddArticle.__all_states_names__ or state_name is None:
        return None
    return state_name.split(":", 1)[1]


async def start(
    message: Message,
    state: FSMContext,
    editor: ArticleEditor,
    search: SearchService,
    settings: Settings,
) -> None:
    """/add: asks for the title, or, with a draft kept, offers to continue it."""
    paused = await paused_draft(state)
    if paused is not None:
        title = paused.get("title")
        await state.update_data(pending_new=None)  # «Начать новую» here is a plain /add
        await message.answer(
            admin_texts.add_draft_waits(title),
            reply_markup=keyboards.add_resume(title, start_over=True),
        )
        return
    await begin_dialog(state, AddArticle.title)
    await _ask(message, state, editor, search, settings)


async def _ask(
    message: Message,
    state: FSMContext,
    editor: ArticleEditor,
    search: SearchService,
    settings: Settings,
) -> None:
    """The current step's question, its value so far shown, with its buttons."""
    current = await state.get_state()
    step = _step(current)
    data = await state.get_data()
    title = data.get("title")
    if current == AddArticle.title.state:
        if title:
            text = admin_texts.add_title_again(title)
        elif data.get("inbox_queries") and data.get("seed"):
            # Started from an /unanswered group: which questions the article is for.
            text = admin_texts.create_from_group(str(data["seed"][0]), len(data["inbox_queries"]))
        else:
            text = admin_texts.ADD_TITLE
    elif current == AddArticle.body.state:
        body = data.get("body")
        text = (
            admin_texts.add_body_again(str(title), str(body))
            if body
            else admin_texts.ask(admin_texts.ADD_BODY, str(title))
        )
    elif current == AddArticle.phrasings.state:
        phrasings = list(data.get("phrasings") or [])
        text = (
            admin_texts.add_phrasings_again(phrasings) if phrasings else admin_texts.ADD_PHRASINGS
        )
    elif current == AddArticle.category.state:
        # The card's «Тема: …» choice, for the draft: a category pressed or a new one typed.
        category = str(data.get("category") or "")
        await message.answer(
            admin_texts.ask_category(str(title), category),
            reply_markup=keyboards.add_topic_choice(category, await editor.category_holders()),
        )
        return
    else:
        await _preview(message, state, search, settings)
        return
    await message.answer(text, reply_markup=keyboards.add_step(str(step)))


async def _next(
    message: Message,
    state: FSMContext,
    editor: ArticleEditor,
    search: SearchService,
    settings: Settings,
) -> None:
    """On to the first step still without a value, or to the preview once all have one (a
    title fixed after «Назад» returns to the preview, not through every step again)."""
    data = await state.get_data()
    missing = [key for key in ("body", "phrasings") if key not in data]
    await state.set_state(STEPS[missing[0]] if missing else AddArticle.preview)
    await _ask(message, state, editor, search, settings)


async def receive(
    message: Message,
    state: FSMContext,
    editor: ArticleEditor,
    search: SearchService,
    settings: Settings,
) -> None:
    """A text typed at the title, text or phrasings step."""
    await _take(message, state, message.text, formatted(message), editor, search, settings)


async def _take(
    message: Message,
    state: FSMContext,
    text: str | None,
    html: str | None,
    editor: ArticleEditor,
    search: SearchService,
    settings: Settings,
) -> None:
    if await expired(message, state):
        return
    current = await state.get_state()
    if current == AddArticle.title.state:
        title = await typed_title(message, text)
        if title is None:
            return
        if await editor.title_taken(title):
            await message.answer(admin_texts.ADD_TITLE_TAKEN)
            return
        await state.update_data(title=title)
    elif current == AddArticle.body.state:
        body = await typed_text(message, text)
        if body is None:
            return
        await state.update_data(body=body_beside(html, body), body_html=html)
    elif current == AddArticle.phrasings.state:
        phrasings = await typed_lines(message, text)
        if phrasings is None:
            return
        await state.update_data(phrasings=phrasings)
    elif current == AddArticle.category.state:
        category = " ".join((text or "").split())
        if not category:
            await need_text(message)
            return
        if len(category) > MAX_CATEGORY_CHARS:
            await message.answer(admin_texts.CATEGORY_TOO_LONG)
            return
        # An existing category typed in other letters' case is that category, not a second one.
        await state.update_data(category=await editor.category_named(category) or category)
    else:
        return
    await _next(message, state, editor, search, settings)


def _with_seed(data: dict[str, Any], phrasings: list[str]) -> list[str]:
    """The phrasings typed, after the question an /unanswered group started the dialog with."""
    return list(dict.fromkeys([*data.get("seed", []), *phrasings]))


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
    # Every message people will get, as they will get it.
    parts = user_texts.article_parts(title, body, data.get("body_html"))
    for part in parts:
        await message.answer(part)
    lines = [admin_texts.add_summary(phrasings), admin_texts.add_topic(data.get("category", ""))]
    if len(parts) > 1:
        lines.append(admin_texts.add_several_messages(len(parts)))
    if close is not None:
        lines.append(admin_texts.similar(close.title, close.score))
    await message.answer(
        "\n\n".join(lines),
        reply_markup=keyboards.add_preview((close.article_id, close.title) if close else None),
    )


async def hold_text(message: Message, state: FSMContext) -> None:
    """A text typed while a draft is paused at a text step is held, not searched: the admin
    is asked whether it was meant for the draft. Once they say it is a question (or the draft
    waits at its preview), texts are questions again."""
    paused = await paused_draft(state)
    if paused is None or paused.get("declined") or _step(paused.get("state")) == "preview":
        raise SkipHandler
    paused["held"] = {"text": message.text or "", "html": formatted(message)}
    await state.update_data(paused=paused)
    await message.answer(
        admin_texts.add_held(paused.get("title"), str(_step(paused.get("state")))),
        reply_markup=keyboards.add_held(),
    )


async def _resume(state: FSMContext, paused: dict[str, Any]) -> None:
    """The paused draft back in the dialog, at the step it was paused at."""
    await drop_paused(state)
    await leave_dialog(state)
    await state.set_state(str(paused["state"]))
    await state.update_data({k: paused[k] for k in DRAFT_KEYS if k in paused})


async def on_button(
    query: CallbackQuery,
    callback_data: AdminAdd,
    state: FSMContext,
    editor: ArticleEditor,
    inbox: InboxService,
    index: IndexUpdater,
    bot: Bot,
    search: SearchService,
    settings: Settings,
) -> None:
    """Every button of /add. A button of a step the dialog has left, or of a draft saved or
    cancelled, is refused with an alert and changes nothing."""
    message = query.message if isinstance(query.message, Message) else None
    action = callback_data.step
    if message is None:
        await query.answer(admin_texts.ADD_STALE, show_alert=True)
        return
    if action in ("resume", "new", "held", "question"):
        paused = await paused_draft(state)
        if paused is None or (action == "held" and not paused.get("held")):
            await query.answer(admin_texts.ADD_STALE, show_alert=True)
            return
        await query.answer()
        if action == "question":
            paused.pop("held", None)
            await state.update_data(paused={**paused, "declined": True})
            await message.edit_text(admin_texts.ADD_HELD_QUESTION)
            return
        if action == "new":
            # An /unanswered group's «Создать статью» leaves its question and its queries.
            pending = dict((await state.get_data()).get("pending_new") or {})
            await drop_paused(state)
            await begin_dialog(state, AddArticle.title, **pending)
            await _ask(message, state, editor, search, settings)
            return
        await _resume(state, paused)
        if action == "held":
            held = dict(paused["held"])
            await _take(message, state, held["text"], held["html"], editor, search, settings)
            return
        if not await expired(message, state):
            await _ask(message, state, editor, search, settings)
        return
    step = _step(await state.get_state())
    paused = await paused_draft(state)
    if step != callback_data.at and paused and _step(paused.get("state")) == callback_data.at:
        # A button of the paused draft's step (say «Сохранить» after a command): resumed.
        await _resume(state, paused)
        step = callback_data.at
    if step is None or step != callback_data.at:
        await query.answer(admin_texts.ADD_STALE, show_alert=True)
        return
    await query.answer()
    if await expired(message, state):
        return
    if action == "cancel":
        title = (await state.get_data()).get("title")
        await leave_dialog(state)
        await message.edit_text(admin_texts.add_cancelled(title))
        return
    if action == "back" and step in BACK:
        await state.set_state(STEPS[BACK[step]])
        await _ask(message, state, editor, search, settings)
        return
    if action in ("fix_title", "fix_body") and step == "preview":
        await state.set_state(STEPS[action.removeprefix("fix_")])
        await _ask(message, state, editor, search, settings)
        return
    if action == "topic" and step == "preview":
        await state.set_state(AddArticle.category)
        await _ask(message, state, editor, search, settings)
        return
    if action == "skip" and step == "phrasings":
        await state.update_data(phrasings=[])
        await _preview(message, state, search, settings)
        return
    if action == "save" and step == "preview":
        await _save(message, state, editor, inbox, index, bot, settings.inbox_undo_minutes)


async def on_topic(
    query: CallbackQuery,
    callback_data: AdminAddTopic,
    state: FSMContext,
    editor: ArticleEditor,
    search: SearchService,
    settings: Settings,
) -> None:
    """A category (or «Без темы») pressed under «Выбрать тему»: the draft takes it and the
    preview is shown again. A button of a picker the dialog has left is refused; one whose
    category is no longer what it showed (or forged) is refused as the card's is."""
    message = query.message if isinstance(query.message, Message) else None
    step = _step(await state.get_state())
    paused = await paused_draft(state)
    if (
        message is not None
        and step != "category"
        and paused
        and _step(paused["state"]) == "category"
    ):
        await _resume(state, paused)  # the picker of a draft paused by a command
        step = "category"
    if message is None or step != "category":
        await query.answer(admin_texts.ADD_STALE, show_alert=True)
        return
    category = await pressed_category(editor, callback_data.like, callback_data.tag)
    if category is None:
        await query.answer(admin_texts.STALE_TOPIC, show_alert=True)
        return
    await query.answer()
    if await expired(message, state):
        return
    await state.update_data(category=category)
    await _preview(message, state, search, settings)


async def _save(
    message: Message,
    state: FSMContext,
    editor: ArticleEditor,
    inbox: InboxService,
    index: IndexUpdater,
    bot: Bot,
    undo_minutes: float,
) -> None:
    """«Сохранить» (or «Сохранить всё равно») stores the article; started from an
    /unanswered group, the group's people get it after the undo period, as an attach does."""
    data = await state.get_data()
    await leave_dialog(state)
    draft = ArticleDraft(
        str(data["title"]),
        str(data["body"]),
        tuple(_with_seed(data, list(data["phrasings"]))),
        category=str(data.get("category") or ""),
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
            message,
            queries,
            article.id,
            inbox=inbox,
            editor=editor,
            bot=bot,
            index=index,
            undo_minutes=undo_minutes,
            card=data.get("inbox_card"),
            outcome=admin_texts.CARD_CREATED,
        )


def create_router() -> Router:
    router = Router(name="admin-add")
    router.message.register(start, Command("add"))
    text_steps = StateFilter(
        AddArticle.title, AddArticle.body, AddArticle.phrasings, AddArticle.category
    )
    router.message.register(receive, text_steps, NOT_A_COMMAND)
    router.message.register(need_text, text_steps, ~F.text)
    router.message.register(hold_text, StateFilter(None), NOT_A_COMMAND)
    router.callback_query.register(on_button, AdminAdd.filter())
    router.callback_query.register(on_topic, AdminAddTopic.filter())
    return router
