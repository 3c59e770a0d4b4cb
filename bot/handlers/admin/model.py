"""Admins look after the model: /model shows what answers and rolls back behind a
confirmation; /retrain runs `faqbot train` as a process of its own and keeps one status
message up to date until the before → after table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers.admin.articles import IndexUpdater
from bot.keyboards import AdminRollback
from bot.telegram_retry import TELEGRAM_ERRORS
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.training.registry import RegistryError

log = logging.getLogger(__name__)

# The trainer's progress bar on stderr: " 45%|████▌ | 46/102 [00:18<00:22, 2.5it/s]".
PROGRESS = re.compile(r"(\d+)/(\d+) \[[^<\]]*<([^,\]]+)")
# Edits of the status message at most this often (Telegram limits edits per chat).
STATUS_EVERY_SECONDS = 3.0
# `faqbot train`'s exit code when it refuses to train (too little data, one running already).
REFUSED = 4


async def show_model(message: Message, editor: ArticleEditor, settings: Settings) -> None:
    """/model: the version that answers, its numbers, the versions before it."""
    overview = await editor.model_overview(
        settings.model.models_dir, settings.model.resolved_path()
    )
    await message.answer(
        admin_texts.model_card(
            overview.name,
            overview.since.strftime("%d.%m.%Y %H:%M") if overview.since else "",
            overview.before,
            overview.after,
            overview.held_out,
            [(name, status, when.strftime("%d.%m.%Y")) for name, status, when in overview.earlier],
        ),
        reply_markup=keyboards.rollback(confirm=False) if overview.can_roll_back else None,
    )


async def rollback(
    query: CallbackQuery,
    callback_data: AdminRollback,
    editor: ArticleEditor,
    settings: Settings,
    index: IndexUpdater,
) -> None:
    """«Откатить» asks first; «Да, откатить» switches back at once; «Отмена» keeps it."""
    message = query.message if isinstance(query.message, Message) else None
    await query.answer()
    if message is None:
        return
    if callback_data.step == "cancel":
        await message.edit_text(admin_texts.CANCELLED)
        return
    overview = await editor.model_overview(
        settings.model.models_dir, settings.model.resolved_path()
    )
    previous = next((name for name, status, _ in overview.earlier if status == "previous"), None)
    if callback_data.step == "ask" or previous is None:
        if previous is None:
            await message.edit_text(admin_texts.MODEL_NOTHING_EARLIER)
            return
        await message.answer(
            admin_texts.ROLLBACK_CONFIRM.format(current=overview.name, previous=previous),
            reply_markup=keyboards.rollback(confirm=True),
        )
        return
    try:
        _, active = await editor.rollback_model(settings.model.models_dir)
    except RegistryError as error:
        await message.edit_text(admin_texts.ROLLBACK_FAILED.format(reason=error))
        return
    await index.refresh()
    await message.edit_text(admin_texts.ROLLED_BACK.format(name=active))


class TrainingRun:
    """The one `faqbot train` an admin started from Telegram (a second waits its turn)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, bot: Bot, status: Message, settings: Settings, index: IndexUpdater) -> None:
        self._task = asyncio.create_task(self._run(bot, status, settings, index))

    async def stop(self) -> None:
        """At the bot's shutdown: stop following (the training itself goes on and registers
        its version; the periodic refresh picks it up)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(
        self, bot: Bot, status: Message, settings: Settings, index: IndexUpdater
    ) -> None:
        started = time.monotonic()
        shown = admin_texts.RETRAIN_STARTED

        async def show(text: str) -> None:
            nonlocal shown
            if text == shown:
                return
            shown = text
            try:
                await bot.edit_message_text(
                    text, chat_id=status.chat.id, message_id=status.message_id
                )
            except TELEGRAM_ERRORS as error:
                log.warning("training status not updated: %s", error)

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "train",
            "--json",
            env=training_environment(settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        output = asyncio.create_task(process.stdout.read())
        errors: list[str] = []
        await show(admin_texts.RETRAIN_PREPARING)
        last_shown = 0.0
        while chunk := await process.stderr.read(4096):
            text = chunk.decode("utf-8", "replace")
            errors.append(text)
            found = PROGRESS.findall(text)
            if found and time.monotonic() - last_shown >= STATUS_EVERY_SECONDS:
                step, total, eta = found[-1]
                last_shown = time.monotonic()
                await show(admin_texts.retrain_progress(int(step), int(total), eta))
        code = await process.wait()
        stdout = (await output).decode("utf-8", "replace")
        if code == 0:
            result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
            if result["promoted"]:
                await index.refresh()
            await show(
                admin_texts.retrain_done(
                    result["version"],
                    result["parent"],
                    result["promoted"],
                    result["reason"],
                    result["before"],
                    result["after"],
                    result["data"]["held_out"],
                    (time.monotonic() - started) / 60,
                )
            )
        elif code == REFUSED:
            reason = "".join(errors).strip().splitlines()[-1]
            log.info("faqbot train refused: %s", reason)
            await show(admin_texts.retrain_refused(reason))
        else:
            log.error("faqbot train exited with %s: %s", code, "".join(errors)[-2000:])
            await show(admin_texts.RETRAIN_FAILED.format(code=code))


def training_environment(settings: Settings) -> dict[str, str]:
    """The environment of `faqbot train`: the bot's own settings, whatever .env says."""
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    env.update(
        DATABASE_URL=settings.database_url,
        MODEL__PATH=settings.model.path,
        MODEL__MODELS_DIR=str(settings.model.models_dir),
        MODEL__ALLOW_HUB=str(settings.model.allow_hub).lower(),
        LOG_LEVEL=settings.log_level,
    )
    for name, value in settings.training.model_dump().items():
        env[f"TRAINING__{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


async def retrain(
    message: Message,
    bot: Bot,
    settings: Settings,
    training: TrainingRun,
    editor: ArticleEditor,
    index: IndexUpdater,
) -> None:
    """/retrain: starts `faqbot train` and answers at once with a status message."""
    if not editor.allowed:
        return
    if training.running:
        await message.answer(admin_texts.RETRAIN_RUNNING)
        return
    status = await message.answer(admin_texts.RETRAIN_STARTED)
    training.start(bot, status, settings, index)


def create_router() -> Router:
    router = Router(name="admin-model")
    router.message.register(show_model, Command("model"))
    router.message.register(retrain, Command("retrain"))
    router.callback_query.register(rollback, AdminRollback.filter())
    return router
