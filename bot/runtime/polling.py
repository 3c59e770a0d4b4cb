"""Long polling that loses no update: each one is journaled before Telegram is told it arrived."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.runtime.journal import UpdateJournal, noting_replies
from bot.runtime.telegram_retry import TELEGRAM_UNREACHABLE

log = logging.getLogger(__name__)

# Pauses after a failed getUpdates: from 1 s up to 30 s while Telegram stays unreachable.
BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.6, jitter=0.1)
# An update whose handling was cut short by this many crashes is given up on: it may be the
# very thing that crashes the process.
MAX_ATTEMPTS = 3
# Handled updates are kept this long (for the operator looking into an incident), then dropped.
KEEP_HANDLED = timedelta(days=2)
# When Telegram keeps failing the reply to an update (each call retried for up to 60 s), or the
# database keeps refusing its write (each retried for DB__WRITE_RETRY_SECONDS), the update is
# handled again after these pauses, then left for the next start.
RETRY_UNREACHABLE = (15.0, 60.0, 240.0)
# What the error handler returns for an update whose database write was refused past the bound.
STORE_UNAVAILABLE = "store-unavailable"
# Outcomes of an update that is not done: handle it again later.
HANDLE_AGAIN_LATER = (TELEGRAM_UNREACHABLE, STORE_UNAVAILABLE)
CLEAN_UP_EVERY = 3600.0


class DurablePolling:
    """Polls getUpdates and feeds the dispatcher, without losing an update to a crash.

    Telegram forgets an update once a later getUpdates carries an offset beyond it, even if
    the bot never finished handling it. So each batch is written to the journal before the
    next getUpdates confirms it, and marked handled once its handler is done; at start-up, what
    the journal holds unfinished is handled first. A crash may repeat a reply that was sent
    just before it, never lose one; the question itself is logged once (by its update id).

    An update whose reply Telegram kept failing (after the retries of every call) is tried
    again later, not marked handled. Used by `faqbot run` and by the end-to-end tests alike.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        journal: Path | UpdateJournal,
        *,
        polling_timeout: int = 10,
        concurrency: int = 64,
        shutdown_grace: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._dp = dispatcher
        self._bot = bot
        # A path is opened (and closed) by `run`; an open journal is the caller's to close
        # (`faqbot run` opens it before the model loads, to refuse a second instance early).
        self._journal = journal
        self._polling_timeout = polling_timeout
        self._concurrency = concurrency
        self._shutdown_grace = shutdown_grace
        # How every pause is waited out: the back-off, the retries of an update, the grace at
        # a stop (a test passes a fake clock's, to watch them without waiting minutes).
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._hurry = asyncio.Event()

    def hurry(self) -> None:
        """Stop waiting for the updates in hand (a second Ctrl+C): they are handled at the
        next start."""
        self._hurry.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; then let the updates in hand finish (for a while)."""
        if isinstance(self._journal, UpdateJournal):
            journal, owned = self._journal, False
        else:
            journal, owned = UpdateJournal(self._journal, (await self._bot.me()).id), True
        workflow = {"dispatcher": self._dp, "bots": (self._bot,), **self._dp.workflow_data}
        try:
            await self._dp.emit_startup(bot=self._bot, **workflow)
            try:
                await self._resume(journal, workflow, stop)
                await self._poll(journal, workflow, stop)
            finally:
                await self._drain()
                await self._dp.emit_shutdown(bot=self._bot, **workflow)
        finally:
            if owned:
                journal.close()

    async def _resume(
        self, journal: UpdateJournal, workflow: dict[str, Any], stop: asyncio.Event
    ) -> None:
        unfinished = journal.unfinished(MAX_ATTEMPTS)
        for entry in unfinished.given_up:
            log.error(
                "update %d: %d runs started it and none finished: given up on",
                entry.update_id,
                entry.attempts,
            )
        if unfinished.resume:
            log.info(
                "handling %d updates the previous run received but did not finish",
                len(unfinished.resume),
            )
        for entry in unfinished.resume:
            if stop.is_set():
                return
            try:
                update = _from_json(entry.payload, self._bot)
            except ValueError:
                log.error("update %d in the journal is unreadable: given up on", entry.update_id)
                journal.mark_handled(entry.update_id, "given_up")
                continue
            task = self._start(journal, update, workflow)
            if entry.attempts:
                # In hand when an earlier run ended: maybe what ended it. One at a time, so a
                # crash counts against this update only, not against innocent neighbours. A
                # stop does not wait for it beyond the grace period (it may hang for good).
                stopped = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopped.cancel()
            else:
                await self._wait_for_room(stop)

    async def _poll(
        self, journal: UpdateJournal, workflow: dict[str, Any], stop: asyncio.Event
    ) -> None:
        get_updates = GetUpdates(
            timeout=self._polling_timeout,
            limit=min(100, self._concurrency),
            allowed_updates=self._dp.resolve_used_update_types(),
        )
        # The HTTP request must outlast the long poll it carries.
        request_timeout = int(self._bot.session.timeout + self._polling_timeout)
        backoff = Backoff(BACKOFF)
        loop = asyncio.get_running_loop()
        clean_up_at = loop.time()
        backoff_conflict = False
        while not stop.is_set():
            if loop.time() >= clean_up_at:
                clean_up_at = loop.time() + CLEAN_UP_EVERY
                self._forget_old(journal)
            await self._wait_for_room(stop)
            if stop.is_set():
                return
            try:
                updates = await _unless_stopped(
                    self._bot(get_updates, request_timeout=request_timeout), stop
                )
                if updates is None:
                    return
            except TelegramUnauthorizedError:
                raise  # the token was revoked: nothing to wait for
            except Exception as error:
                if isinstance(error, TelegramRetryAfter):
                    pause = float(error.retry_after)
                else:
                    pause = next(backoff)
                if isinstance(error, TelegramConflictError) and not backoff_conflict:
                    backoff_conflict = True
                    log.error(
                        "Telegram says another process polls this bot (Conflict): two `faqbot "
                        "run` with one BOT_TOKEN, maybe on other machines or with another "
                        "UPDATE_JOURNAL; each would answer half the questions. Stop all but one."
                    )
                # One line: Telegram being away is an event, not a bug in the bot.
                log.warning(
                    "getUpdates failed (%s: %s); again in %.1f s", _kind(error), error, pause
                )
                await self._sleep_unless_stopped(pause, stop)
                continue
            if backoff.counter:
                log.info("getUpdates works again after %d failures", backoff.counter)
                backoff.reset()
                backoff_conflict = False
            try:
                fresh = journal.record([(u.update_id, _to_json(u)) for u in updates])
            except sqlite3.Error as error:
                # Not confirmed either: Telegram sends them again with the next getUpdates.
                log.warning("could not journal %d updates (%s); again in 1 s", len(updates), error)
                await self._sleep_unless_stopped(1.0, stop)
                continue
            if updates:
                # The next getUpdates confirms these: they are in the journal now.
                get_updates.offset = updates[-1].update_id + 1
            for update in updates:
                # One delivered again (its confirmation was lost in a crash) is in hand already.
                if update.update_id in fresh:
                    self._start(journal, update, workflow)

    def _start(
        self, journal: UpdateJournal, update: Update, workflow: dict[str, Any]
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(self._handle(journal, update, workflow))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handle(
        self, journal: UpdateJournal, update: Update, workflow: dict[str, Any]
    ) -> None:
        journal.begin(update.update_id)
        noted = False

        def note() -> None:
            # Synchronous, with no await before it: this note is what a crash must not outrun.
            nonlocal noted
            if noted:
                return
            noted = True
            try:
                journal.mark_handled(update.update_id)
            except sqlite3.Error as error:
                log.warning(
                    "update %d handled, but not noted so (%s): it is handled again at next start",
                    update.update_id,
                    error,
                )

        with noting_replies(note):
            for pause in (*RETRY_UNREACHABLE, None):
                try:
                    result = await self._dp.feed_update(self._bot, update, **workflow)
                except Exception:
                    # The error handler answers the person; reaching here means it failed too.
                    log.exception("update %d failed", update.update_id)
                    result = None
                # Once the person has the reply, a later failure (telling the admins) is not
                # worth sending them the reply again.
                if noted or result not in HANDLE_AGAIN_LATER:
                    break
                what = "Telegram unreachable" if result == TELEGRAM_UNREACHABLE else "no database"
                if pause is None:
                    log.warning(
                        "update %d: still %s; left for the next start", update.update_id, what
                    )
                    return
                log.warning("update %d: %s; again in %g s", update.update_id, what, pause)
                await self._sleep(pause)
        note()

    async def _wait_for_room(self, stop: asyncio.Event) -> None:
        """Back-pressure: fetch more only while fewer than `concurrency` updates are in hand."""
        while len(self._tasks) >= self._concurrency and not stop.is_set():
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({*self._tasks, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()

    async def _drain(self) -> None:
        if not self._tasks:
            return
        hurry = asyncio.ensure_future(self._hurry.wait())
        grace = asyncio.ensure_future(self._sleep(self._shutdown_grace))
        try:
            finished: asyncio.Future[Any] = asyncio.gather(*self._tasks)
            await asyncio.wait({finished, hurry, grace}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()
            grace.cancel()
        unfinished = set(self._tasks)
        if unfinished:
            log.warning(
                "stopping with %d updates unfinished: they are handled at the next start",
                len(unfinished),
            )
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def _sleep_unless_stopped(self, seconds: float, stop: asyncio.Event) -> None:
        pause = asyncio.ensure_future(self._sleep(seconds))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({pause, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pause.cancel()
            stopped.cancel()

    @staticmethod
    def _forget_old(journal: UpdateJournal) -> None:
        try:
            journal.forget_handled(KEEP_HANDLED.total_seconds())
        except sqlite3.Error as error:  # next hour, then
            log.warning("could not clean the update journal (%s)", error)


async def _unless_stopped(call: Any, stop: asyncio.Event) -> Any:
    """The result of `call`, or None if `stop` is set first (the call is then cancelled:
    what it would have returned is not confirmed, so Telegram sends it again)."""
    fetch = asyncio.ensure_future(call)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not fetch.done():
            fetch.cancel()
            await asyncio.wait({fetch})
    return None if fetch.cancelled() else fetch.result()


def _to_json(update: Update) -> str:
    # ASCII JSON: a lone surrogate (\ud800, which Telegram passes on) has no UTF-8 form
    # and must not stop the journal; escaped, it comes back exactly.
    # Telegram's own field names ("from", not aiogram's "from_user"): readable by any version.
    payload = update.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return json.dumps(payload, ensure_ascii=True)


def _from_json(payload: str, bot: Bot) -> Update:
    return Update.model_validate(json.loads(payload), context={"bot": bot})


def _kind(error: BaseException) -> str:
    return type(error).__name__
