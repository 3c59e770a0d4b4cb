"""The polling loop on its own, with a probe dispatcher: what a lost confirmation, a restart and
a stop at full load do to the updates in hand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.utils.backoff import BackoffConfig

from bot.runtime import polling
from bot.runtime.journal import UpdateJournal
from bot.runtime.polling import DurablePolling
from tests.fakes.probe_bots import HANG, Probe, SentMethods, stub_bot
from tests.fakes.telegram import Fault, TelegramStub
from tests.fakes.waiting import wait_until

USER = 4242


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "BACKOFF", BackoffConfig(0.05, 0.2, 1.5, 0.0))


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    client = stub_bot(stub)
    yield client
    await client.session.close()


def _polling(probe: Probe, bot: Bot, journal: Path, **options: float) -> DurablePolling:
    return DurablePolling(probe.dispatcher, bot, journal, polling_timeout=1, **options)  # type: ignore[arg-type]


async def test_an_update_delivered_again_after_a_restart_is_handled_once(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    journal = tmp_path / "updates.sqlite3"
    first = Probe()
    stop = asyncio.Event()
    run = asyncio.create_task(
        DurablePolling(first.dispatcher, bot, journal, polling_timeout=1).run(stop)
    )
    await wait_until(lambda: stub.waiting_polls == 1, 10, "a poll waiting", every=0.01)
    # The poll in flight delivers the update; every later getUpdates, which would confirm it,
    # is lost on the way: Telegram still holds it when the bot stops.
    stub.fail_next("getUpdates", Fault("drop_before"), times=1000)
    update_id = stub.push_text(USER, "вопрос")
    await wait_until(
        lambda: first.handled == [update_id] and len(stub.faults_injected) >= 2,
        10,
        "handled, and confirmations lost",
        every=0.01,
    )
    stop.set()
    await run
    stub.clear_faults()
    assert [u["update_id"] for u in stub.pending_updates] == [update_id], "never confirmed"

    second = Probe()
    stop = asyncio.Event()
    run = asyncio.create_task(
        DurablePolling(second.dispatcher, bot, journal, polling_timeout=1).run(stop)
    )
    # Delivered again, and confirmed now.
    await wait_until(lambda: not stub.pending_updates, 10, "confirmed", every=0.01)
    stop.set()
    await run
    redelivered = [
        call
        for call in stub.calls_of("getUpdates")
        if any(u["update_id"] == update_id for u in call.result or [])
    ]
    assert len(redelivered) == 2
    assert first.handled + second.handled == [update_id], "handled once"
    assert len(stub.calls_of("sendMessage")) == 1


async def test_a_stop_at_full_load_is_prompt_and_the_next_start_finishes_the_work(
    stub: TelegramStub, bot: Bot, tmp_path: Path
) -> None:
    journal = tmp_path / "updates.sqlite3"
    probe = Probe()
    stop = asyncio.Event()
    loop = DurablePolling(
        probe.dispatcher, bot, journal, polling_timeout=1, concurrency=1, shutdown_grace=0.5
    )
    sent = SentMethods()
    bot.session.middleware(sent)
    run = asyncio.create_task(loop.run(stop))
    hung = stub.push_text(USER, HANG)
    await wait_until(lambda: probe.handled == [hung], 10, "the hanging update taken", every=0.01)
    # No room: the loop asks Telegram for nothing more. One that did would have sent its next
    # getUpdates by now: in the very step that handed `hung` to its handler.
    assert sent.names.count("getUpdates") == len(stub.calls_of("getUpdates")), sent.names
    waiting = stub.push_text(USER, "второй")  # so it stays with Telegram
    started = time.monotonic()
    stop.set()
    await run
    assert time.monotonic() - started < 3, "the stop waited only for the grace period"
    assert probe.handled == [hung]
    assert sent.names.count("getUpdates") == len(stub.calls_of("getUpdates")), sent.names
    # Neither was confirmed: `hung` is in the journal, `waiting` never left Telegram.
    assert [u["update_id"] for u in stub.pending_updates] == [hung, waiting]

    probe.hang = False
    stop = asyncio.Event()
    run = asyncio.create_task(
        DurablePolling(probe.dispatcher, bot, journal, polling_timeout=1).run(stop)
    )
    await wait_until(lambda: len(stub.calls_of("sendMessage")) == 2, 10, "two answers", every=0.01)
    stop.set()
    await run
    assert probe.handled == [hung, hung, waiting]
    left = UpdateJournal(journal, stub.bot_user["id"])
    assert left.unfinished(3).resume == []
    left.close()
