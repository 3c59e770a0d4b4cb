"""/model shows the model that answers, rolls it back or switches to an earlier version; /retrain
trains one, with a live status, and leaves the choice to the admin when it proves too little."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.config import Settings
from bot.handlers import IndexUpdater
from bot.keyboards import AdminActivate, AdminRollback
from bot.runtime.telegram_retry import TELEGRAM_ERRORS
from bot.runtime.training import (
    Finished,
    Preparing,
    Progress,
    Refused,
    TrainingEvent,
    TrainingRun,
)
from bot.texts import admin as admin_texts
from knowledge_base.audit import Actor
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.readiness import MIN_HELD_OUT_TO_JUDGE
from knowledge_base.training.registry import RegistryError
from knowledge_base.types import ModelStatus

log = logging.getLogger(__name__)


async def show_model(message: Message, models: ModelAdmin, settings: Settings) -> None:
    """/model: the version that answers, its numbers, the versions before it."""
    overview = await models.overview(settings.model.resolved_path())
    ready = await models.readiness(
        held_out_share=settings.training.held_out_share,
        seed=settings.training.seed,
        min_pairs=settings.training.min_pairs,
    )
    await message.answer(
        admin_texts.model_card(
            overview.name,
            admin_texts.local_time(overview.since, settings.zone, "%d.%m.%Y %H:%M")
            if overview.since
            else "",
            overview.before,
            overview.after,
            overview.held_out,
            [
                (name, status, admin_texts.local_time(when, settings.zone, "%d.%m.%Y"))
                for name, status, when in overview.earlier
            ],
            admin_texts.retrain_preview(
                ready.blocker, ready.train, ready.held_out, ready.min_pairs, MIN_HELD_OUT_TO_JUDGE
            ),
        ),
        reply_markup=keyboards.model_card(
            overview.name, overview.can_roll_back, overview.can_activate
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


async def activate(
    query: CallbackQuery,
    callback_data: AdminActivate,
    models: ModelAdmin,
    settings: Settings,
    index: IndexUpdater,
) -> None:
    """«Включить …» under /model asks first; «Да, включить» or «Включить всё равно» switches at
    once; «Отмена» and «Оставить текущую» keep the model that answers."""
    message = query.message if isinstance(query.message, Message) else None
    await query.answer()
    if message is None:
        return
    name = callback_data.name
    overview = await models.overview(settings.model.resolved_path())
    if callback_data.step == "cancel":
        await message.edit_text(admin_texts.CANCELLED)
        return
    if callback_data.step == "keep":
        await message.edit_reply_markup(reply_markup=None)
        await message.answer(
            admin_texts.model_text(admin_texts.KEPT_CURRENT, current=overview.name, name=name)
        )
        return
    if overview.name == name:
        await message.answer(admin_texts.model_text(admin_texts.ACTIVATE_ALREADY, name=name))
        return
    if name not in overview.can_activate:
        await message.answer(admin_texts.model_text(admin_texts.ACTIVATE_UNKNOWN, name=name))
        return
    if callback_data.step == "ask":
        rejected = overview.rejected.get(name)
        if rejected is None:
            text = admin_texts.model_text(
                admin_texts.ACTIVATE_CONFIRM, name=name, current=overview.name
            )
        else:
            text = admin_texts.activate_rejected_confirm(
                name,
                overview.name,
                rejected.before,
                rejected.after,
                rejected.held_out,
                held=rejected.held,
            )
        await message.answer(
            text, reply_markup=keyboards.activate_confirm(name, anyway=rejected is not None)
        )
        return
    try:
        await models.activate(name, settings.model.resolved_path())
    except RegistryError as error:
        log.warning("activation of %s refused: %s", name, error)
        await message.answer(admin_texts.model_text(admin_texts.ACTIVATE_FAILED, name=name))
        return
    await index.refresh()
    await message.edit_reply_markup(reply_markup=None)
    await message.answer(admin_texts.model_text(admin_texts.ACTIVATED, name=name))


class TrainingStatus:
    """The status message of one /retrain: each report of the training replaces its text."""

    def __init__(self, bot: Bot, status: Message) -> None:
        self._bot = bot
        self._status = status
        self._shown = admin_texts.RETRAIN_STARTED

    async def __call__(self, event: TrainingEvent) -> None:
        text = status_text(event)
        if text == self._shown:
            return
        self._shown = text
        held = event.version if isinstance(event, Finished) and event.held else None
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=self._status.chat.id,
                message_id=self._status.message_id,
                reply_markup=keyboards.held_model(held) if held else None,
            )
        except TELEGRAM_ERRORS as error:
            log.warning("training status not updated: %s", error)


def status_text(event: TrainingEvent) -> str:
    """What the status message says of a report of the training."""
    if isinstance(event, Preparing):
        return admin_texts.RETRAIN_STARTED
    if isinstance(event, Progress):
        return admin_texts.retrain_progress(event.step, event.total, event.eta)
    if isinstance(event, Finished):
        return admin_texts.retrain_done(
            event.version,
            event.parent,
            event.promoted,
            event.before,
            event.after,
            event.held_out,
            event.minutes,
            held=event.held,
            too_few_to_judge=event.too_few_to_judge,
            needed=MIN_HELD_OUT_TO_JUDGE,
        )
    if isinstance(event, Refused):
        return admin_texts.retrain_refused(event.reason)
    return admin_texts.RETRAIN_FAILED.format(code="?" if event.code is None else event.code)


async def retrain(
    message: Message,
    bot: Bot,
    training: TrainingRun,
    actor: Actor,
    models: ModelAdmin,
    settings: Settings,
) -> None:
    """/retrain: says why it cannot train, or starts `faqbot train` and answers at once with
    one status message that is edited as the training goes."""
    if not actor.allowed:
        return
    if training.running:
        await message.answer(admin_texts.RETRAIN_RUNNING)
        return
    ready = await models.readiness(
        held_out_share=settings.training.held_out_share,
        seed=settings.training.seed,
        min_pairs=settings.training.min_pairs,
    )
    if ready.blocker is not None:
        await message.answer(
            admin_texts.retrain_cannot_start(ready.blocker, ready.train, ready.min_pairs)
        )
        return
    status = await message.answer(admin_texts.RETRAIN_STARTED)
    training.start(TrainingStatus(bot, status), by=actor)


def create_router() -> Router:
    router = Router(name="admin-model")
    router.message.register(show_model, Command("model"))
    router.message.register(retrain, Command("retrain"))
    router.callback_query.register(rollback, AdminRollback.filter())
    router.callback_query.register(activate, AdminActivate.filter())
    return router
