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
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers import IndexUpdater
from bot.keyboards import AdminRollback
from bot.runtime.telegram_retry import TELEGRAM_ERRORS
from bot.texts import admin as admin_texts
from knowledge_base.audit import Actor
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.registry import RegistryError
from knowledge_base.types import ModelStatus

log = logging.getLogger(__name__)

# The trainer's progress bar on stderr: " 45%|████▌ | 46/102 [00:18<00:22, 2.5it/s]".
PROGRESS = re.compile(r"(\d+)/(\d+) \[[^<\]]*<([^,\]]+)")
# Edits of the status message at most this often (Telegram limits edits per chat).
STATUS_EVERY_SECONDS = 3.0
# `faqbot train`'s exit code when it refuses to train (too little data, one running already).
REFUSED = 4


async def show_model(message: Message, models: ModelAdmin, settings: Settings) -> None:
    """/model: the version that answers, its numbers, the versions before it."""
    overview = await models.overview(settings.model.resolved_path())
    await message.answer(
        admin_texts.model_card(
            overview.name,
            overview.since.strftime("%d.%m.%Y %H:%M") if overview.since else "",
            overview.before,
            overview.after,
            overview.held_out,
            [(name, status, when.strftime("%d.%m.%Y")) for name, status, when in overview.earlier],
        ),
        reply_markup=(
            keyboards.rollback(confirm=False, current=overview.name)
            if overview.can_roll_back
            else None
        ),
    )


async def rollback(
    query: CallbackQuery,
    callback_data: AdminRollback,
    models: ModelAdmin,
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
    overview = await models.overview(settings.model.resolved_path())
    previous = next(
        (name for name, status, _ in overview.earlier if status is ModelStatus.PREVIOUS), None
    )
    if overview.name != callback_data.current:
        await message.edit_text(admin_texts.MODEL_CHANGED)
        return
    if previous is None:
        await message.edit_text(admin_texts.MODEL_NOTHING_EARLIER)
        return
    if callback_data.step == "ask":
        await message.answer(
            admin_texts.rollback_confirm(overview.name, previous),
            reply_markup=keyboards.rollback(confirm=True, current=overview.name),
        )
        return
    try:
        _, active = await models.rollback()
    except RegistryError as error:
        log.warning("rollback refused: %s", error)
        await message.edit_text(admin_texts.ROLLBACK_FAILED)
        return
    await index.refresh()
    await message.edit_text(admin_texts.rolled_back(active.name))


class TrainingRun:
    """The one `faqbot train` an admin started from Telegram (a second waits its turn).

    The training runs in a session of its own (Ctrl+C on the bot does not reach it), and the
    bot follows its output to keep the status message current. If the bot stops meanwhile,
    the training is stopped too and its scratch directory cleaned: nothing half-registered.
    """

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, bot: Bot, status: Message, settings: Settings, index: IndexUpdater) -> None:
        self._task = asyncio.create_task(self._run(bot, status, settings, index))

    async def stop(self) -> None:
        """At the bot's shutdown: stop the training, then stop following it."""
        process = self._process
        if process is not None and process.returncode is None:
            log.warning("the bot stops: stopping the training it started")
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 30)

    async def _run(
        self, bot: Bot, status: Message, settings: Settings, index: IndexUpdater
    ) -> None:
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

        try:
            await self._follow(show, settings, index)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following the training failed")
            await show(admin_texts.RETRAIN_FAILED.format(code="?"))
        finally:
            self._process = None

    async def _follow(
        self, show: Callable[[str], Awaitable[None]], settings: Settings, index: IndexUpdater
    ) -> None:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "train",
            "--json",
            env=training_environment(settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        output = asyncio.create_task(process.stdout.read())
        tail = ""  # the end of stderr: the reason of a refusal or a failure
        await show(admin_texts.RETRAIN_PREPARING)
        last_shown = 0.0
        while chunk := await process.stderr.read(4096):
            text = chunk.decode("utf-8", "replace")
            tail = (tail + text)[-4000:]
            found = PROGRESS.findall(text)
            if found and time.monotonic() - last_shown >= STATUS_EVERY_SECONDS:
                step, total, eta = found[-1]
                last_shown = time.monotonic()
                await show(admin_texts.retrain_progress(int(step), int(total), eta))
        code = await process.wait()
        stdout = (await output).decode("utf-8", "replace").strip()
        if code == 0 and stdout:
            result: dict[str, Any] = json.loads(stdout.splitlines()[-1])
            if result["promoted"]:
                await index.refresh()
            await show(
                admin_texts.retrain_done(
                    result["version"],
                    result["parent"],
                    result["promoted"],
                    result["before"],
                    result["after"],
                    result["data"]["held_out"],
                    (time.monotonic() - started) / 60,
                )
            )
        elif code == REFUSED:
            reason = tail.strip().splitlines()[-1] if tail.strip() else ""
            log.info("faqbot train refused: %s", reason)
            await show(admin_texts.retrain_refused(reason))
        else:
            log.error("faqbot train exited with %s: %s", code, tail[-2000:])
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
    actor: Actor,
    index: IndexUpdater,
) -> None:
    """/retrain: starts `faqbot train` and answers at once with a status message."""
    if not actor.allowed:
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
