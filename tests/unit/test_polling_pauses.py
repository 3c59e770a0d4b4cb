"""The README's pauses of the polling loop, on a fake clock, with `faqbot run`'s defaults: a failed
getUpdates is retried from 1 s up to every 30 s, one log line each; an update whose reply
Telegram keeps failing, or whose row the database keeps refusing, is tried again after 15 s,
1 min and 4 min, then left for the next start; a stop lets the updates in hand finish for up
to 10 s."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import Message

from bot.runtime.polling import STORE_UNAVAILABLE, DurablePolling
from bot.runtime.telegram_retry import TELEGRAM_UNREACHABLE
from tests.fakes.clock import FakeClock
from tests.fakes.probe_bots import stub_bot
from tests.fakes.telegram import Fault, TelegramStub

PERSON = 4242
STEP = 10.0


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    async with TelegramStub() as running:
        yield running


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    client = stub_bot(stub)
    yield client
    await client.session.close()


class _Handler:
    """A dispatcher whose one handler notes each attempt at a text, then either says Telegram
    stayed unreachable for its reply or hangs until cancelled."""

    def __init__(self, outcome: str | None) -> None:
        self.attempts = 0
        self.attempted = asyncio.Event()
        self._outcome = outcome
        router = Router()
        router.message.register(self._handle, F.text)
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(router)

    async def _handle(self, message: Message) -> str:
        self.attempts += 1
        self.attempted.set()
        if self._outcome is None:
            await asyncio.Event().wait()  # in hand until the stop cancels it
        return self._outcome or ""

    async def next_attempt(self) -> None:
        await asyncio.wait_for(self.attempted.wait(), STEP)
        self.attempted.clear()


def _unhandled(journal: Path) -> int:
    with closing(sqlite3.connect(journal)) as db:
        (count,) = db.execute("SELECT count(*) FROM updates WHERE handled_at IS NULL").fetchone()
    return int(count)


async def test_a_failed_get_updates_is_retried_from_1_s_up_to_every_30_s_one_line_each(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failures = 12
    stub.fail_next("getUpdates", Fault("server_error"), times=failures)
    clock = FakeClock(auto=True)
    stop = asyncio.Event()
    polling = DurablePolling(
        _Handler(TELEGRAM_UNREACHABLE).dispatcher,
        bot,
        tmp_path / "updates.sqlite3",
        polling_timeout=0,
        sleep=clock.sleep,
    )
    with caplog.at_level(logging.INFO, logger="bot.runtime.polling"):
        run = asyncio.create_task(polling.run(stop))
        await stub.wait_for("getUpdates", lambda call: call.error is None, timeout=STEP)
        stop.set()
        await asyncio.wait_for(run, STEP)
    pauses = clock.slept
    assert len(pauses) == failures
    assert pauses[0] == 1.0
    assert pauses[:7] == sorted(pauses[:7]) and pauses[6] > 10, "growing"
    # Capped at 30 s (aiogram adds a jitter of 0.1 s around it).
    assert all(pause <= 30.5 for pause in pauses)
    assert all(abs(pause - 30.0) < 0.5 for pause in pauses[-4:])
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.runtime.polling"]
    assert sum(line.startswith("getUpdates failed") for line in lines) == failures
    assert f"getUpdates works again after {failures} failures" in lines


# Telegram failing the reply past its retries, or the database refusing the question's row
# past DB__WRITE_RETRY_SECONDS: the same schedule.
@pytest.mark.parametrize("outcome", [TELEGRAM_UNREACHABLE, STORE_UNAVAILABLE])
async def test_a_reply_telegram_keeps_failing_is_tried_after_15_s_1_min_4_min_then_left(
    stub: TelegramStub, bot: Bot, tmp_path: Path, outcome: str
) -> None:
    journal = tmp_path / "updates.sqlite3"
    handler = _Handler(outcome)
    clock = FakeClock()
    stop = asyncio.Event()
    polling = DurablePolling(handler.dispatcher, bot, journal, polling_timeout=1, sleep=clock.sleep)
    run = asyncio.create_task(polling.run(stop))
    try:
        stub.push_text(PERSON, "Как получить доступ к логам?")
        await handler.next_attempt()
        waited = 0.0
        for pause in (15.0, 60.0, 240.0):
            await clock.until_sleeping()
            waited += pause
            assert clock.sleepers == [waited]
            clock.advance(pause - 1.0)
            assert clock.sleepers == [waited], f"not tried again before {pause:g} s"
            assert handler.attempts == len(clock.slept)
            clock.advance(1.0)
            await handler.next_attempt()
        # The fourth attempt failed too: nothing more is planned; the next start handles it.
        assert clock.slept == [15.0, 60.0, 240.0]
    finally:
        stop.set()
        await asyncio.wait_for(run, STEP)
    assert handler.attempts == 4
    assert clock.sleepers == []
    assert _unhandled(journal) == 1


async def test_a_stop_waits_10_s_for_the_updates_in_hand_then_leaves_them_for_the_next_start(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "updates.sqlite3"
    handler = _Handler(None)
    clock = FakeClock()
    stop = asyncio.Event()
    polling = DurablePolling(handler.dispatcher, bot, journal, polling_timeout=1, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING, logger="bot.runtime.polling"):
        run = asyncio.create_task(polling.run(stop))
        stub.push_text(PERSON, "Как получить доступ к логам?")
        await handler.next_attempt()
        stop.set()  # SIGTERM, with the update in hand
        await clock.until_sleeping()
        assert clock.sleepers == [10.0]
        clock.advance(9.9)
        assert clock.sleepers == [10.0], "still waiting at 9.9 s"
        assert not run.done()
        clock.advance(0.1)
        await asyncio.wait_for(run, STEP)
    assert clock.slept == [10.0]
    assert _unhandled(journal) == 1
    assert any("stopping with 1 updates unfinished" in r.getMessage() for r in caplog.records)
