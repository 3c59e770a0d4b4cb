"""Steps the admin dialogs share: begin, leave, expire, read the text typed, attach questions."""

from __future__ import annotations

import time
from typing import Any

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import Message

from bot.handlers import IndexUpdater
from bot.notifications import tell_askers
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.inbox import InboxService
from knowledge_base.text_rules import MAX_PHRASING_CHARS, MAX_TITLE_CHARS, normal_title, visible

# A command during a dialog is a command (/cancel, /help), not the answer to a step.
NOT_A_COMMAND = F.text & ~F.text.startswith("/")
# What an admin's state keeps across dialogs: the lists' filters and open file previews.
KEPT_ACROSS_DIALOGS = ("lists", "imports")
# A dialog left alone this long is dropped at its next step.
EXPIRES_AFTER_SECONDS = 24 * 3600


async def begin_dialog(state: FSMContext, step: State, **data: Any) -> None:
    """Enter a dialog's first step, remembering when it began."""
    await state.set_state(step)
    await state.update_data({"started": time.time(), **data})


async def leave_dialog(state: FSMContext) -> None:
    """Out of any dialog and its draft; the lists' filters and file previews stay."""
    data = await state.get_data()
    await state.clear()
    await state.update_data({k: data[k] for k in KEPT_ACROSS_DIALOGS if k in data})


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


async def typed_title(message: Message) -> str | None:
    """The title typed, one line; None (and the admin told why) if it cannot be one."""
    title = " ".join(normal_title(message.text or "").split())
    if not title:
        await need_text(message)
        return None
    if len(title) > MAX_TITLE_CHARS:
        await message.answer(admin_texts.TITLE_TOO_LONG)
        return None
    return title


async def typed_text(message: Message) -> str | None:
    """An article's text as typed; None (and the admin asked for text) if there is none."""
    body = (message.text or "").strip()
    if not body:
        await need_text(message)
        return None
    return body


async def typed_lines(message: Message) -> list[str] | None:
    """Phrasings typed one a line: spaces folded, blanks and repeats dropped; None (and the
    admin asked for text) if no line is left."""
    lines = (" ".join(line.split()) for line in (message.text or "").splitlines())
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


async def attach_and_tell(
    message: Message,
    query_ids: list[int],
    article_id: int,
    *,
    inbox: InboxService,
    editor: ArticleEditor,
    bot: Bot,
    index: IndexUpdater,
) -> bool:
    """Attach the questions, serve them at once, and send the article to each person who
    asked (once, however many of the questions were theirs); False if nothing was attached."""
    attached = await inbox.attach(query_ids, article_id)
    if not attached.count:
        await message.answer(admin_texts.INBOX_GONE)
        return False
    await index.serve_changes()
    card = await editor.card(article_id)
    if card is None:
        await message.answer(admin_texts.ARTICLE_MISSING)
        return True
    reached = await tell_askers(bot, attached.people, card.article)
    await message.answer(admin_texts.attached(card.article.title, attached.count, reached))
    return True
