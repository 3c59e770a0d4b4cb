"""Steps the admin dialogs share: begin, leave, expire, read the text typed, attach questions."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import Message

from bot import keyboards
from bot.handlers import IndexUpdater
from bot.notifications import tell_askers
from bot.states import AddArticle
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.inbox import InboxService
from knowledge_base.text_rules import MAX_PHRASING_CHARS, MAX_TITLE_CHARS, normal_title, visible

# A command during a dialog is a command (/cancel, /help), not the answer to a step.
NOT_A_COMMAND = F.text & ~F.text.startswith("/")
# What an admin's state keeps across dialogs: the lists' filters, open file previews, the
# /unanswered groups on screen, and an /add draft paused by a command.
KEPT_ACROSS_DIALOGS = ("lists", "imports", "groups", "paused")
# An /add draft's values: what a pause keeps and a resume brings back (all JSON).
DRAFT_KEYS = (
    "started",
    "title",
    "body",
    "body_html",
    "phrasings",
    "category",
    "seed",
    "inbox_queries",
    "inbox_card",
)
# A dialog left alone this long is dropped at its next step.
EXPIRES_AFTER_SECONDS = 24 * 3600


async def begin_dialog(state: FSMContext, step: State, **data: Any) -> dict[str, Any] | None:
    """Enter a dialog's first step, remembering when it began; an open /add draft is paused
    (and returned, for the caller to say so with tell_paused), any other dialog left."""
    paused = await pause_draft(state)
    await leave_dialog(state)
    await state.set_state(step)
    await state.update_data({"started": time.time(), **data})
    return paused


async def tell_paused(message: Message, paused: dict[str, Any] | None) -> None:
    """«Черновик «…» сохранён» with «Продолжить», if a draft was just paused."""
    if paused is None:
        return
    title = paused.get("title")
    await message.answer(admin_texts.add_paused(title), reply_markup=keyboards.add_resume(title))


async def leave_dialog(state: FSMContext) -> None:
    """Out of any dialog and its draft; the lists' filters and file previews stay."""
    data = await state.get_data()
    await state.clear()
    await state.update_data({k: data[k] for k in KEPT_ACROSS_DIALOGS if k in data})


async def pause_draft(state: FSMContext) -> dict[str, Any] | None:
    """If /add is open, its draft (and the step it was at) is kept under `paused` and the
    dialog left; the paused draft, or None if /add was not open."""
    current = await state.get_state()
    if current not in AddArticle.__all_states_names__:
        return None
    data = await state.get_data()
    paused = {"state": current, **{k: data[k] for k in DRAFT_KEYS if k in data}}
    await leave_dialog(state)
    await state.update_data(paused=paused)
    return paused


async def paused_draft(state: FSMContext) -> dict[str, Any] | None:
    paused = (await state.get_data()).get("paused")
    return dict(paused) if paused else None


async def drop_paused(state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_data({k: v for k, v in data.items() if k != "paused"})


def command_name(message: Message) -> str:
    """ "/stats@faqbot 7" → "stats"."""
    return (message.text or "").split(maxsplit=1)[0].split("@")[0].removeprefix("/").lower()


async def pause_on_command(
    message: Message,
    state: FSMContext,
    afterwards: list[Callable[[], Awaitable[object]]] | None = None,
) -> None:
    """A command typed during /add: the draft is paused, the command then runs as usual
    (SkipHandler passes it on), and once it has answered the admin is told the draft is kept,
    with «Продолжить». /cancel passes untouched (it ends the draft); /add pauses it silently
    (it offers to continue it itself)."""
    command = command_name(message)
    if command != "cancel":
        paused = await pause_draft(state)
        if paused is not None and command != "add":

            async def tell() -> None:
                await tell_paused(message, paused)

            if afterwards is None:
                await tell()
            else:
                afterwards.append(tell)
    raise SkipHandler


async def expired(message: Message, state: FSMContext) -> bool:
    """True (and the dialog dropped, the admin told) when it began over a day ago."""
    started = float((await state.get_data()).get("started", 0))
    if time.time() - started <= EXPIRES_AFTER_SECONDS:
        return False
    await leave_dialog(state)
    await message.answer(admin_texts.DIALOG_EXPIRED)
    return True


async def need_text(message: Message) -> None:
    """A sticker or a photo where a text was asked for."""
    await message.answer(admin_texts.NEED_TEXT)


async def typed_title(message: Message, text: str | None = None) -> str | None:
    """The title typed (`text`, or the message's), one line; None (and the admin told why) if
    it cannot be one."""
    title = " ".join(normal_title((message.text if text is None else text) or "").split())
    if not title:
        await need_text(message)
        return None
    if len(title) > MAX_TITLE_CHARS:
        await message.answer(admin_texts.TITLE_TOO_LONG)
        return None
    return title


async def typed_text(message: Message, text: str | None = None) -> str | None:
    """An article's text as typed; None (and the admin asked for text) if there is none."""
    body = ((message.text if text is None else text) or "").strip()
    if not body:
        await need_text(message)
        return None
    return body


async def typed_lines(message: Message, text: str | None = None) -> list[str] | None:
    """Phrasings typed one a line: spaces folded, blanks and repeats dropped; None (and the
    admin asked for text) if no line is left."""
    typed = (message.text if text is None else text) or ""
    lines = (" ".join(line.split()) for line in typed.splitlines())
    found = list(dict.fromkeys(line for line in lines if visible(line)))
    if not found:
        await need_text(message)
        return None
    if any(len(line) > MAX_PHRASING_CHARS for line in found):
        await message.answer(admin_texts.PHRASING_TOO_LONG)
        return None
    return found


def formatted(message: Message) -> str | None:
    """The message's formatting as Telegram HTML (built by aiogram from its entities, so a
    person's own "<b>" stays text); None for a message without formatting."""
    if not message.entities:
        return None
    return message.html_text.strip()


async def mark_card(bot: Bot, card: Any, outcome: str, title: str = "") -> None:
    """A handled group's card says what was done to it and loses its buttons (`card`: the
    group's "card" entry; an old or deleted card is left as it is)."""
    if not card:
        return
    chat_id, message_id, text = card
    with suppress(TelegramAPIError):
        await bot.edit_message_text(
            text=admin_texts.card_done(str(text), outcome, title),
            chat_id=int(chat_id),
            message_id=int(message_id),
            reply_markup=None,
        )


async def attach_and_tell(
    message: Message,
    query_ids: list[int],
    article_id: int,
    *,
    inbox: InboxService,
    editor: ArticleEditor,
    bot: Bot,
    index: IndexUpdater,
    undo_minutes: float = 0,
    card: Any = None,
    outcome: str = admin_texts.CARD_ATTACHED,
) -> bool:
    """Attach the questions and serve them at once; False if nothing was attached. The people
    who asked get the article (once, however many of the questions were theirs) after
    `undo_minutes` (INBOX_UNDO_MINUTES), during which «Отменить» under the answer detaches it
    all and tells nobody; at once when it is 0. The group's `card` (see mark_card) then
    says so (`outcome`: one of admin_texts.CARD_*)."""
    notify_at = datetime.now(UTC) + timedelta(minutes=undo_minutes) if undo_minutes else None
    attached = await inbox.attach(query_ids, article_id, notify_at=notify_at)
    if not attached.count or (notify_at is not None and attached.notice_id is None):
        await message.answer(admin_texts.INBOX_GONE)
        return False
    await index.serve_changes()
    article = await editor.card(article_id)
    if article is None:
        await message.answer(admin_texts.ARTICLE_MISSING)
        return True
    title = article.article.title
    if attached.notice_id is not None:
        sent = await message.answer(
            admin_texts.attached_pending(title, attached.count, len(attached.people), undo_minutes),
            reply_markup=keyboards.inbox_undo(attached.notice_id),
        )
        # Edited by the sender once the people are told.
        await inbox.remember_confirmation(attached.notice_id, sent.chat.id, sent.message_id)
    else:
        reached = await tell_askers(bot, attached.people, article.article)
        await message.answer(admin_texts.attached(title, attached.count, reached))
    await mark_card(bot, card, outcome, title)
    return True


async def pressed_category(editor: ArticleEditor, like: int, tag: str) -> str | None:
    """The category a «Тема» button names: the category of article `like` (0: «Без темы»), or
    None when the button is stale or forged (its tag no longer matches that category)."""
    if like:
        holder = await editor.card(like)
        category = holder.article.category if holder else None
    else:
        category = ""
    if category is None or keyboards.topic_tag(category) != tag:
        return None
    return category
