"""The polling loop on its own, with a one-handler dispatcher of the test's making: what it asks
Telegram for, what it hands the hooks and handlers, what it writes in the journal, and the one
line it logs for each thing that goes wrong."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.runtime.journal import Unfinished, UpdateJournal, the_reply
from bot.runtime.polling import STORE_UNAVAILABLE, DurablePolling
from bot.runtime.telegram_retry import TELEGRAM_UNREACHABLE
from tests.fakes.clock import FakeClock
from tests.fakes.probe_bots import stub_bot
from tests.fakes.telegram import Fault, TelegramStub
from tests.fakes.waiting import wait_until

PERSON = 4242
STEP = 10.0
POLLING = "bot.runtime.polling"

Act = Callable[[Message], Awaitable[Any]]


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    async with TelegramStub() as running:
        running.open_chat(PERSON)
        yield running


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    client = stub_bot(stub)
    yield client
    await client.session.close()


class _Handler:
    """A dispatcher whose one handler, for each text, notes the update and what aiogram passed
    it, then does what the test asked (`act`) and returns what that returns."""

    def __init__(self, act: Act | None = None) -> None:
        self.started: list[int] = []
        self.data: list[dict[str, Any]] = []
        self._act = act
        self._changed = asyncio.Event()
        router = Router()
        router.message.register(self._handle, F.text)
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(router)

    async def _handle(self, message: Message, **data: Any) -> Any:
        self.started.append(data["event_update"].update_id)
        self.data.append(data)
        self._changed.set()
        return None if self._act is None else await self._act(message)

    async def until_started(self, count: int) -> None:
        """Wait until `count` updates have been started (attempts included)."""
        async with asyncio.timeout(STEP):
            while len(self.started) < count:
                self._changed.clear()
                await self._changed.wait()


class _Running:
    """A polling loop running in a task until `stop()`."""

    def __init__(self, polling: DurablePolling) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(polling.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self._task, STEP)


def _journal_rows(path: Path) -> dict[int, tuple[str, str | None]]:
    """update id -> (payload, outcome), as the operator finds them in the journal."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT update_id, payload, outcome FROM updates").fetchall()
    return {update_id: (payload, outcome) for update_id, payload, outcome in rows}


def _lines(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == POLLING and r.levelno >= level]


@pytest.mark.parametrize(
    ("options", "limit"), [({}, 64), ({"concurrency": 5}, 5), ({"concurrency": 500}, 100)]
)
async def test_the_long_poll_asks_10_s_for_what_the_handlers_take_as_many_as_may_be_in_hand(
    stub: TelegramStub, bot: Bot, tmp_path: Path, options: dict[str, int], limit: int
) -> None:
    # `faqbot run`'s defaults but the concurrency (Telegram hands out 100 at most).
    polling = DurablePolling(_Handler().dispatcher, bot, tmp_path / "updates.sqlite3", **options)
    running = _Running(polling)
    poll = await stub.wait_for("getUpdates", timeout=STEP)
    await running.stop()
    assert poll.params["timeout"] == 10
    assert poll.params["limit"] == limit
    assert poll.params["allowed_updates"] == ["message"], "the kinds the dispatcher handles"


# A call's own HTTP timeout shorter and longer than the poll: the request gets both.
@pytest.mark.parametrize("call_timeout", [1.0, 3.0])
async def test_the_http_request_of_a_long_poll_outlasts_the_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, call_timeout: float
) -> None:
    async with TelegramStub(max_poll_wait=2.0) as stub:
        api = TelegramAPIServer.from_base(stub.base_url)
        session = AiohttpSession(api=api, timeout=call_timeout)
        client = Bot(stub.token, session=session)
        polling = DurablePolling(
            _Handler().dispatcher, client, tmp_path / "updates.sqlite3", polling_timeout=2
        )
        try:
            with caplog.at_level(logging.INFO, logger=POLLING):
                running = _Running(polling)
                # The poll waits its 2 s for an update; its HTTP request must not give up first.
                poll = await stub.wait_for("getUpdates", timeout=STEP)
                await running.stop()
        finally:
            await client.session.close()
    assert poll.error is None and poll.result == []
    assert _lines(caplog) == []


async def test_hooks_and_handlers_get_what_aiogram_s_own_polling_gives_them(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    handler = _Handler()
    dispatcher = handler.dispatcher
    settings = object()
    dispatcher["settings"] = settings
    hooks: dict[str, dict[str, Any]] = {}

    async def on_startup(**data: Any) -> None:
        hooks["startup"] = data

    async def on_shutdown(**data: Any) -> None:
        hooks["shutdown"] = data

    dispatcher.startup.register(on_startup)
    dispatcher.shutdown.register(on_shutdown)
    running = _Running(DurablePolling(dispatcher, bot, tmp_path / "u.sqlite3", polling_timeout=1))
    stub.push_text(PERSON, "вопрос")
    await handler.until_started(1)
    await running.stop()
    for data in (hooks["startup"], hooks["shutdown"], handler.data[0]):
        assert data["bot"] is bot
        assert data["dispatcher"] is dispatcher
        assert data["bots"] == (bot,)
        assert data["settings"] is settings


async def test_a_journal_opened_by_the_caller_is_used_and_left_open_for_it(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    # `faqbot run` opens the journal before the model loads, to refuse a second bot early.
    journal = UpdateJournal(tmp_path / "updates.sqlite3", stub.bot_user["id"])
    try:
        handler = _Handler()
        running = _Running(DurablePolling(handler.dispatcher, bot, journal, polling_timeout=1))
        update_id = stub.push_text(PERSON, "вопрос")
        await handler.until_started(1)
        await running.stop()
        assert journal.unfinished(3) == Unfinished(resume=[], given_up=[]), "noted in it"
        assert journal.record([(update_id + 1, "{}")]) == {update_id + 1}, "still open"
    finally:
        journal.close()


async def test_what_the_last_run_left_is_resumed_in_order_and_an_unreadable_update_given_up(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "updates.sqlite3"
    journal = UpdateJournal(path, stub.bot_user["id"])
    texts = {1: "первый", 3: "третий", 4: "четвёртый"}
    left = {
        update_id: json.dumps(
            {"update_id": update_id, "message": stub.message_from(PERSON, text=text)}
        )
        for update_id, text in texts.items()
    }
    journal.record([(1, left[1]), (2, '{"update_id": 2, "message": {"text'), *sorted(left.items())])
    journal.close()
    handler = _Handler()
    # One in hand at a time: the resumed updates wait for room like fresh ones.
    polling = DurablePolling(handler.dispatcher, bot, path, polling_timeout=1, concurrency=1)
    with caplog.at_level(logging.INFO, logger=POLLING):
        running = _Running(polling)
        await handler.until_started(3)
        await running.stop()
    assert handler.started == [1, 3, 4]
    assert _lines(caplog) == [
        "handling 4 updates the previous run received but did not finish",
        "update 2 in the journal is unreadable: given up on",
    ]
    outcomes = {update_id: outcome for update_id, (_, outcome) in _journal_rows(path).items()}
    assert outcomes == {1: "handled", 2: "given_up", 3: "handled", 4: "handled"}


async def test_a_reply_that_went_out_is_noted_at_once_and_never_sent_again(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    path = tmp_path / "updates.sqlite3"
    clock = FakeClock(auto=True)
    noted_before_the_handler_returned: list[bool] = []

    async def reply_then_fail(message: Message) -> str:
        with the_reply():
            await message.answer("ответ")
        with closing(sqlite3.connect(path)) as db:
            (handled_at,) = db.execute("SELECT handled_at FROM updates").fetchone()
        noted_before_the_handler_returned.append(handled_at is not None)
        return TELEGRAM_UNREACHABLE  # a later step (telling the admins, say) met Telegram away

    handler = _Handler(reply_then_fail)
    polling = DurablePolling(handler.dispatcher, bot, path, polling_timeout=1, sleep=clock.sleep)
    running = _Running(polling)
    stub.push_text(PERSON, "вопрос")
    await handler.until_started(1)
    await stub.wait_for_reply(PERSON, timeout=STEP)
    await running.stop()
    assert noted_before_the_handler_returned == [True]
    assert handler.started == [handler.started[0]], "not handled again"
    assert clock.slept == [], "no retry planned"
    assert [c.params["text"] for c in stub.calls_of("sendMessage")] == ["ответ"]


async def test_a_note_the_journal_refuses_is_one_line_and_the_update_is_handled_at_next_start(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = UpdateJournal(tmp_path / "updates.sqlite3", stub.bot_user["id"])

    async def refuse_the_note(message: Message) -> None:
        journal._db.execute("PRAGMA query_only = ON")  # the journal's disk turned read-only

    try:
        handler = _Handler(refuse_the_note)
        running = _Running(DurablePolling(handler.dispatcher, bot, journal, polling_timeout=1))
        with caplog.at_level(logging.WARNING, logger=POLLING):
            update_id = stub.push_text(PERSON, "вопрос")
            await handler.until_started(1)
            await running.stop()
        assert (
            f"update {update_id} handled, but not noted so (attempt to write a readonly "
            "database): it is handled again at next start"
        ) in _lines(caplog)
        journal._db.execute("PRAGMA query_only = OFF")
        assert [u.update_id for u in journal.unfinished(3).resume] == [update_id]
    finally:
        journal.close()


async def test_a_handler_that_fails_is_logged_with_its_traceback_and_not_tried_again(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "updates.sqlite3"

    async def fail(message: Message) -> None:
        raise RuntimeError("a bug of the bot's")

    handler = _Handler(fail)
    with caplog.at_level(logging.ERROR, logger=POLLING):
        running = _Running(DurablePolling(handler.dispatcher, bot, path, polling_timeout=1))
        update_id = stub.push_text(PERSON, "вопрос")
        await handler.until_started(1)
        await running.stop()
    [record] = [r for r in caplog.records if r.name == POLLING]
    assert record.getMessage() == f"update {update_id} failed"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert handler.started == [update_id]
    assert _journal_rows(path)[update_id][1] == "handled", "a bug is not retried"


@pytest.mark.parametrize(
    ("outcome", "what"),
    [(TELEGRAM_UNREACHABLE, "Telegram unreachable"), (STORE_UNAVAILABLE, "no database")],
)
async def test_each_retry_of_an_update_is_one_line_saying_why_and_when(
    stub: TelegramStub,
    bot: Bot,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    outcome: str,
    what: str,
) -> None:
    clock = FakeClock(auto=True)

    async def unreachable(message: Message) -> str:
        return outcome

    handler = _Handler(unreachable)
    polling = DurablePolling(
        handler.dispatcher, bot, tmp_path / "u.sqlite3", polling_timeout=1, sleep=clock.sleep
    )
    with caplog.at_level(logging.WARNING, logger=POLLING):
        running = _Running(polling)
        update_id = stub.push_text(PERSON, "вопрос")
        await wait_until(lambda: len(_lines(caplog)) == 4, STEP, "four lines", every=0.01)
        await running.stop()
    assert _lines(caplog) == [
        f"update {update_id}: {what}; again in 15 s",
        f"update {update_id}: {what}; again in 60 s",
        f"update {update_id}: {what}; again in 240 s",
        f"update {update_id}: still {what}; left for the next start",
    ]


async def test_a_second_poller_is_named_in_one_error_until_polling_works_again(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(auto=True)
    # Another `faqbot run` with the same token: each of its polls ends the waiting one with
    # Telegram's 409 Conflict.
    other = stub_bot(stub)
    polling = DurablePolling(
        _Handler().dispatcher, bot, tmp_path / "u.sqlite3", polling_timeout=1, sleep=clock.sleep
    )

    def failed() -> list[str]:
        return [line for line in _lines(caplog) if line.startswith("getUpdates failed")]

    async def conflict() -> None:
        await wait_until(lambda: stub.waiting_polls == 1, STEP, "a poll waiting", every=0.01)
        count = len(failed())
        await other.get_updates(timeout=0)
        await wait_until(lambda: len(failed()) == count + 1, STEP, "the 409 logged", every=0.01)

    try:
        with caplog.at_level(logging.INFO, logger=POLLING):
            running = _Running(polling)
            for _ in range(3):
                await conflict()
            mark = stub.mark()
            await stub.wait_for("getUpdates", lambda call: call.error is None, after=mark)
            await wait_until(
                lambda: "getUpdates works again after 3 failures" in _lines(caplog),
                STEP,
                "back",
                every=0.01,
            )
            await conflict()
            await running.stop()
    finally:
        await other.session.close()
    conflict_error = (
        "getUpdates failed (TelegramConflictError: Telegram server says - Conflict: terminated "
        "by other getUpdates request; make sure that only one bot instance is running); again "
        "in 1.0 s"
    )
    assert failed()[0] == conflict_error
    assert failed()[3] == conflict_error, "the back-off starts afresh once polling works"
    assert len(failed()) == 4
    named = [
        r.getMessage() for r in caplog.records if r.name == POLLING and r.levelno >= logging.ERROR
    ]
    # Once, and once more after polling worked again.
    assert named == 2 * [
        "Telegram says another process polls this bot (Conflict): two `faqbot run` with one "
        "BOT_TOKEN, maybe on other machines or with another UPDATE_JOURNAL; each would answer "
        "half the questions. Stop all but one."
    ]


async def test_a_429_on_get_updates_is_waited_out_as_telegram_asked(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    stub.fail_next("getUpdates", Fault("retry_after", 7))
    polling = DurablePolling(
        _Handler().dispatcher, bot, tmp_path / "u.sqlite3", polling_timeout=1, sleep=clock.sleep
    )
    with caplog.at_level(logging.WARNING, logger=POLLING):
        running = _Running(polling)
        await clock.until_sleeping()
        assert clock.sleepers == [7.0], "Telegram's retry_after, not the back-off"
        await running.stop()  # a stop does not wait the pause out
    [line] = _lines(caplog)
    assert line.startswith("getUpdates failed (TelegramRetryAfter: Telegram server says - ")
    assert line.endswith("; again in 7.0 s")


async def test_a_journal_that_refuses_writes_leaves_the_updates_with_telegram_until_it_takes_them(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = UpdateJournal(tmp_path / "updates.sqlite3", stub.bot_user["id"])
    journal._db.execute("PRAGMA query_only = ON")  # the journal's disk turned read-only
    clock = FakeClock()
    handler = _Handler()
    update_id = stub.push_text(PERSON, "вопрос")
    polling = DurablePolling(handler.dispatcher, bot, journal, polling_timeout=1, sleep=clock.sleep)
    try:
        with caplog.at_level(logging.WARNING, logger=POLLING):
            running = _Running(polling)
            await clock.until_sleeping()
            assert clock.sleepers == [1.0]
            clock.advance(1.0)
            await clock.until_sleeping()
            assert clock.sleepers == [2.0]
            # The clean-up is tried again in an hour, not at every poll.
            refused = "attempt to write a readonly database"
            assert _lines(caplog) == [
                f"could not clean the update journal ({refused})",
                f"could not journal 1 updates ({refused}); again in 1 s",
                f"could not journal 1 updates ({refused}); again in 1 s",
            ]
            assert handler.started == [], "not handled before it is journaled"
            journal._db.execute("PRAGMA query_only = OFF")
            clock.advance(1.0)
            # Not confirmed to Telegram: delivered again, journaled now, and handled.
            await handler.until_started(1)
            await running.stop()
        assert handler.started == [update_id]
        assert journal.unfinished(3) == Unfinished(resume=[], given_up=[])
    finally:
        journal.close()


async def test_updates_waiting_at_telegram_are_fetched_as_room_frees_up_each_once(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    waiting = [stub.push_text(PERSON, text) for text in ("первый", "второй", "третий")]
    handler = _Handler()
    polling = DurablePolling(
        handler.dispatcher, bot, tmp_path / "u.sqlite3", polling_timeout=1, concurrency=1
    )
    running = _Running(polling)
    await handler.until_started(3)
    await running.stop()
    assert handler.started == waiting, "each once: none skipped by the offset that confirms"


async def test_a_second_ctrl_c_winds_down_the_updates_in_hand_before_the_shutdown_hooks_run(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "updates.sqlite3"
    order: list[str] = []

    async def hang(message: Message) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            order.append("handler wound down")

    async def on_shutdown() -> None:
        order.append("shutdown hooks")  # where `faqbot run` closes the database

    handler = _Handler(hang)
    handler.dispatcher.shutdown.register(on_shutdown)
    polling = DurablePolling(handler.dispatcher, bot, path, polling_timeout=1)
    with caplog.at_level(logging.WARNING, logger=POLLING):
        running = _Running(polling)
        update_id = stub.push_text(PERSON, "вопрос")
        await handler.until_started(1)
        polling.hurry()
        await running.stop()
    assert order == ["handler wound down", "shutdown hooks"]
    assert _lines(caplog) == [
        "stopping with 1 updates unfinished: they are handled at the next start"
    ]
    assert _journal_rows(path)[update_id][1] is None, "left for the next start"


async def test_the_journal_keeps_each_update_as_telegram_sent_it(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    path = tmp_path / "updates.sqlite3"
    handler = _Handler()
    running = _Running(DurablePolling(handler.dispatcher, bot, path, polling_timeout=1))
    # A lone surrogate, which Telegram passes on and UTF-8 cannot hold.
    update_id = stub.push_text(PERSON, "вопрос \ud800")
    await handler.until_started(1)
    await running.stop()
    [served] = [u for call in stub.calls_of("getUpdates") for u in call.result or []]
    payload, _ = _journal_rows(path)[update_id]
    assert payload.isascii()
    # Telegram's own field names ("from", not aiogram's "from_user"), and only what it sent.
    assert json.loads(payload) == served
