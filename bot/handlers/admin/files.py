"""Admins move the base as files: a document is previewed, then imported; /export sends it."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers import IndexUpdater
from bot.handlers.admin.dialogs import EXPIRES_AFTER_SECONDS
from bot.keyboards import AdminImport
from bot.runtime.telegram_retry import TELEGRAM_ERRORS
from bot.texts import admin as admin_texts
from bot.texts import plural
from knowledge_base.articles import ArticleEditor, ArticleService
from knowledge_base.io import (
    ImportFormatError,
    decode_text,
    detect_format,
    format_articles,
    parse_articles,
)
from knowledge_base.types import ArticleDraft

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "yaml", "csv")
# A download that failed: Telegram refused it, or the connection broke.
UNREADABLE: tuple[type[Exception], ...] = (*TELEGRAM_ERRORS, OSError)


async def receive_file(
    message: Message,
    bot: Bot,
    articles: ArticleService,
    settings: Settings,
    state: FSMContext,
) -> None:
    """A .jsonl, .yaml or .csv document: checked whole, then previewed with «Импортировать»."""
    document = message.document
    assert document is not None
    name = document.file_name or "file"
    limit = settings.admin_max_file_mb
    if (document.file_size or 0) > limit * 1024 * 1024:
        await message.answer(admin_texts.FILE_TOO_BIG.format(limit=limit))
        return
    drafts = await _read(message, bot, document.file_id, name)
    if drafts is None:
        return
    report = await articles.preview_import(drafts)
    token = secrets.token_hex(4)
    previews = dict((await state.get_data()).get("imports", {}))
    # Several previews may be open at once; each button imports its own file.
    previews[token] = {"file_id": document.file_id, "name": name, "at": time.time()}
    await state.update_data(imports=_fresh(previews))
    await message.answer(
        admin_texts.file_preview(
            name,
            len(drafts),
            (report.added, report.updated, report.unchanged),
            report.added_titles,
            list(zip(report.updated_titles, report.changes, strict=True)),
        ),
        reply_markup=keyboards.import_preview(token),
    )


def _fresh(previews: dict[str, Any]) -> dict[str, Any]:
    """Previews younger than a day (an abandoned one expires like a dialog)."""
    now = time.time()
    return {k: v for k, v in previews.items() if now - float(v["at"]) <= EXPIRES_AFTER_SECONDS}


async def _read(message: Message, bot: Bot, file_id: str, name: str) -> list[ArticleDraft] | None:
    """The file's articles; None (and the person told why) if it cannot be imported."""
    try:
        fmt = detect_format(Path(name))
        downloaded = await bot.download(file_id)
        if downloaded is None:
            raise OSError("empty download")
        return parse_articles(decode_text(downloaded.read()), fmt)
    except ImportFormatError as error:
        reason = str(error)
        shown = (
            admin_texts.FILE_KIND
            if reason.startswith("unknown file type")
            else admin_texts.file_error(reason)
        )
        await message.answer(admin_texts.FILE_REFUSED.format(name=escape(name), reason=shown))
    except UNREADABLE:
        await message.answer(admin_texts.FILE_UNREADABLE)
    return None


async def confirm_import(
    query: CallbackQuery,
    callback_data: AdminImport,
    bot: Bot,
    editor: ArticleEditor,
    state: FSMContext,
    index: IndexUpdater,
) -> None:
    """«Импортировать» imports the previewed file; «Отмена» drops it."""
    previews = _fresh(dict((await state.get_data()).get("imports", {})))
    preview = previews.pop(callback_data.token, None)
    await state.update_data(imports=previews)
    file_id = preview["file_id"] if preview else None
    name = str(preview["name"]) if preview else "file"
    message = query.message if isinstance(query.message, Message) else None
    if not callback_data.go:
        await query.answer()
        if message is not None:
            await message.edit_text(admin_texts.CANCELLED)
        return
    if not file_id or message is None:
        await query.answer(admin_texts.IMPORT_GONE, show_alert=True)
        return
    await query.answer()
    drafts = await _read(message, bot, str(file_id), name)
    if drafts is None:
        return
    report = await editor.import_file(drafts, name)
    await index.serve_changes()
    await message.edit_text(admin_texts.imported(report.added, report.updated, report.unchanged))


async def export(
    message: Message, command: CommandObject, articles: ArticleService, settings: Settings
) -> None:
    """/export [jsonl|yaml|csv]: the whole base as a file that imports back unchanged, named
    with the admin's local date, so a second export beside the first does not overwrite it."""
    fmt = (command.args or "jsonl").strip().lower()
    if fmt not in FORMATS:
        await message.answer(admin_texts.EXPORT_FORMATS)
        return
    everything = await articles.all()
    if not everything:
        await message.answer(admin_texts.EXPORT_EMPTY)
        return
    try:
        content = format_articles(everything, fmt)
    except ImportFormatError as error:
        log.warning("export to %s refused: %s", fmt, error)
        await message.answer(admin_texts.EXPORT_CSV_PIPE)
        return
    await message.answer_document(
        BufferedInputFile(content.encode("utf-8"), filename=export_name(fmt, settings.zone)),
        caption=admin_texts.EXPORT_CAPTION.format(articles=plural.articles(len(everything))),
    )


def export_name(fmt: str, zone: ZoneInfo) -> str:
    """«faqbot-base-2026-12-08.csv»: the date of today where the admins are (TIMEZONE)."""
    return f"faqbot-base-{datetime.now(zone).date().isoformat()}.{fmt}"


def create_router() -> Router:
    router = Router(name="admin-files")
    router.message.register(export, Command("export"))
    router.message.register(receive_file, F.document)
    router.callback_query.register(confirm_import, AdminImport.filter())
    return router
