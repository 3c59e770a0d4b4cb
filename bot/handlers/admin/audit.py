"""/audit: the changes admins made to the base and the model, by name, in local time, each
cut change whole behind «Подробнее»."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.keyboards import AuditDetail
from bot.texts import admin as admin_texts
from knowledge_base.audit import AuditTrail

AUDIT_DEFAULT, AUDIT_MAX = 10, 50
# Whole changes longer than this many messages come as a file instead.
FULL_MESSAGES_MAX = 4
MESSAGE_ROOM = 3900


async def audit(
    message: Message, command: CommandObject, audit_trail: AuditTrail, settings: Settings
) -> None:
    """/audit [N]: the last N changes (10 by default, 1…50, said when clamped), newest first;
    a text that did not fit gets «Подробнее»; anything but a number is answered with usage."""
    notes: list[str] = []
    limit = AUDIT_DEFAULT
    if command.args:
        try:
            asked = int(command.args.strip())
        except ValueError:
            await message.answer(admin_texts.AUDIT_USAGE.format(limit=AUDIT_MAX))
            return
        limit = min(max(asked, 1), AUDIT_MAX)
        if limit != asked:
            notes.append(admin_texts.audit_clamped(asked, limit))
    entries = await audit_trail.latest(limit)
    if not entries:
        await message.answer("\n".join([*notes, admin_texts.NO_CHANGES]))
        return
    shown: list[str] = list(notes)
    cut_ids: list[int] = []
    for entry in entries:  # whole lines, newest first, as many as one message holds
        line, cut = admin_texts.audit_line(entry, admin_texts.local_time(entry.at, settings.zone))
        if sum(len(x) + 1 for x in shown) + len(line) > MESSAGE_ROOM:
            break
        shown.append(line)
        if cut:
            cut_ids.append(entry.id)
    await message.answer("\n".join(shown), reply_markup=keyboards.audit_details(cut_ids))


async def audit_detail(
    query: CallbackQuery, callback_data: AuditDetail, audit_trail: AuditTrail, settings: Settings
) -> None:
    """«Подробнее»: the entry's whole before and after, in several messages or as a file."""
    entry = await audit_trail.entry(callback_data.entry_id)
    if entry is None or not isinstance(query.message, Message):
        await query.answer(admin_texts.AUDIT_GONE, show_alert=True)
        return
    await query.answer()
    parts = admin_texts.audit_full(
        entry, admin_texts.local_time(entry.at, settings.zone, "%d.%m.%Y %H:%M")
    )
    if len(parts) > FULL_MESSAGES_MAX:
        text = admin_texts.audit_file(entry)
        await query.message.answer_document(
            BufferedInputFile(text.encode("utf-8"), filename=f"audit-{entry.id}.txt"),
            caption=parts[0].split("\n\n", 1)[0],
        )
        return
    for part in parts:
        await query.message.answer(part)


def create_router() -> Router:
    router = Router(name="admin-audit")
    router.message.register(audit, Command("audit"))
    router.callback_query.register(audit_detail, AuditDetail.filter())
    return router
