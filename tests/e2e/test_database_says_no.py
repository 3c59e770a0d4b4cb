"""When the database says no (another writer holds its lock, its disk is full), the bot waits
and retries instead of losing the question: every question is stored once and answered."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import DatabaseSettings
from bot.runtime import polling
from bot.texts import user as texts
from knowledge_base.storage import engine as storage_engine
from knowledge_base.storage.faults import StoreUnavailable
from tests.fakes.databases import database_file
from tests.fakes.harness import FORCE_ANSWER, BotHarness, LaunchBot
from tests.fakes.replies import sent_text
from tests.fakes.samples import LOGS_QUESTION
from tests.fakes.waiting import wait_until

PEOPLE = range(7000, 7020)
# Holds SQLite's write lock from another process, as a careless backup or a migration does.
LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))  # the lock held this long: the behaviour under test
db.execute("ROLLBACK")
"""


def _hold_write_lock(database: Path, seconds: float) -> subprocess.Popen[str]:
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(database), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def _answers(bot: BotHarness) -> Counter[int]:
    return Counter(
        int(call.params["chat_id"])
        for call in bot.stub.calls_of("sendMessage")
        if call.error is None and int(call.params["chat_id"]) in PEOPLE
    )


async def _every_question_stored_once(bot: BotHarness) -> None:
    stored = Counter(query.user_id for query in await bot.queries())
    assert stored == Counter(dict.fromkeys(PEOPLE, 1))


def _everyone_asks(bot: BotHarness) -> None:
    for person in PEOPLE:
        bot.stub.push_text(person, LOGS_QUESTION)


async def _everyone_answered(bot: BotHarness, timeout: float) -> None:
    await wait_until(
        lambda: len(_answers(bot)) == len(PEOPLE), timeout, "everyone answered", every=0.1
    )


async def _logged(caplog: pytest.LogCaptureFixture, words: str, what: str) -> None:
    await wait_until(
        lambda: any(words in r.getMessage() for r in caplog.records), 30, what, every=0.1
    )


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info is not None]


async def test_a_30_second_lock_delays_the_answers_and_loses_none(
    launch_bot: LaunchBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    locker = _hold_write_lock(database_file(bot.settings), 30)
    try:
        with caplog.at_level(logging.INFO):
            _everyone_asks(bot)
            await _everyone_answered(bot, 90)
            await bot.settle()
    finally:
        locker.wait(60)
    assert _answers(bot) == Counter(dict.fromkeys(PEOPLE, 1))
    texts_sent = {sent_text(c) for c in bot.stub.calls_of("sendMessage")}
    assert texts.SEARCH_FAILED not in texts_sent
    await _every_question_stored_once(bot)
    assert _no_tracebacks(caplog) == []
    refusals = [r for r in caplog.records if "refuses writes" in r.getMessage()]
    assert len(refusals) == 1 and "locked" in refusals[0].getMessage(), "one line an episode"


async def test_past_the_bound_the_updates_wait_in_the_journal_for_the_lock_to_go(
    launch_bot: LaunchBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Scaled down from a 120 s lock and a 10 s bound: SQLite's busy wait 1 s, the bound 2 s,
    the lock 12 s, the journal's pauses 2 s."""
    monkeypatch.setattr(storage_engine, "BUSY_TIMEOUT_MS", 1000)
    monkeypatch.setattr(polling, "RETRY_UNREACHABLE", (2.0,) * 30)
    bot = await launch_bot(FORCE_ANSWER, db=DatabaseSettings(write_retry_seconds=2))
    # The handlers fail on purpose, and the error handler gives the update back to the journal.
    bot.expected_failures = (StoreUnavailable,)
    locker = _hold_write_lock(database_file(bot.settings), 12)
    try:
        with caplog.at_level(logging.INFO):
            _everyone_asks(bot)
            await _logged(caplog, "handled again later", "an update given back to the journal")
            assert locker.poll() is None, "the lock still holds"
            assert not _answers(bot), "nothing is answered while the question cannot be stored"
            await _everyone_answered(bot, 60)
    finally:
        locker.wait(60)
    assert _answers(bot) == Counter(dict.fromkeys(PEOPLE, 1))
    await _every_question_stored_once(bot)
    assert _no_tracebacks(caplog) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of the test's own, for a database whose disk fills up."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


async def test_a_full_disk_is_one_log_line_and_the_questions_are_answered_when_space_returns(
    launch_bot: LaunchBot,
    small_disk: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await launch_bot(
        FORCE_ANSWER, database_url=f"sqlite+aiosqlite:///{small_disk / 'faqbot.sqlite3'}"
    )
    assert shutil.disk_usage(small_disk).used > 0, "the database lives on the small disk"
    filler = _fill(small_disk)
    try:
        with caplog.at_level(logging.INFO):
            _everyone_asks(bot)
            await _logged(caplog, "full", "the full disk seen")
            assert not _answers(bot)
            filler.unlink()
            await _everyone_answered(bot, 60)
            await bot.settle()
    finally:
        filler.unlink(missing_ok=True)
    await _every_question_stored_once(bot)
    refusals = [r for r in caplog.records if "refuses writes" in r.getMessage()]
    assert len(refusals) == 1 and "full" in refusals[0].getMessage(), "one line an episode"
    assert _no_tracebacks(caplog) == []
