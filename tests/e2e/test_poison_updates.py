"""An update that every run dies on: the README promises that after three runs started it and
none finished it is given up on (and logged), and that the updates in hand beside it are
resumed one at a time, so they are not blamed with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot

from bot.runtime.polling import DurablePolling
from tests.fakes.probe_bots import HANG, Probe, stub_bot
from tests.fakes.telegram import TelegramStub
from tests.fakes.waiting import wait_until

POISONED, BESIDE = 4242, (4243, 4244)


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    client = stub_bot(stub)
    yield client
    await client.session.close()


async def _run_until_stuck(bot: Bot, journal: Path, probe: Probe, stuck_on: list[int]) -> None:
    """One run of the bot, ended while it is stuck in the handlers of `stuck_on` (the journal
    sees what a crash there leaves: started, not finished)."""
    stop = asyncio.Event()
    loop = DurablePolling(probe.dispatcher, bot, journal, polling_timeout=1, shutdown_grace=0.1)  # type: ignore[arg-type]
    run = asyncio.create_task(loop.run(stop))
    await wait_until(lambda: probe.handled == stuck_on, 10, f"stuck on {stuck_on}", every=0.01)
    stop.set()
    await run


async def test_an_update_three_runs_died_on_is_given_up_and_those_beside_it_are_answered(
    stub: TelegramStub, bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "updates.sqlite3"
    poison = stub.push_text(POISONED, HANG)
    beside = [stub.push_text(person, HANG) for person in BESIDE]
    # Run 1 takes all three at once and dies with all three in hand.
    await _run_until_stuck(bot, journal, Probe(), [poison, *beside])
    # Runs 2 and 3 resume what was in hand one at a time, the oldest first: each dies on the
    # poison, and the two beside it are never started again (not blamed).
    for _ in range(2):
        await _run_until_stuck(bot, journal, Probe(), [poison])
    # Run 4: three runs started the poison and none finished: given up. Those beside it are
    # handled, one at a time, and answered (their hang is over).
    last = Probe()
    last.hang = False
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="bot.runtime.polling"):
        run = asyncio.create_task(
            DurablePolling(last.dispatcher, bot, journal, polling_timeout=1).run(stop)  # type: ignore[arg-type]
        )
        await wait_until(lambda: last.handled == beside, 10, "those beside it handled")
        await wait_until(
            lambda: len(stub.calls_of("sendMessage")) == len(BESIDE), 10, "their answers"
        )
        stop.set()
        await run
    assert sorted(int(c.params["chat_id"]) for c in stub.calls_of("sendMessage")) == list(BESIDE)
    given_up = [r.getMessage() for r in caplog.records if "given up on" in r.getMessage()]
    assert given_up == [f"update {poison}: 3 runs started it and none finished: given up on"]
    assert not stub.pending_updates, "all confirmed to Telegram"
