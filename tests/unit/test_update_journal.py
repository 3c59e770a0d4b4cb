"""The update journal: what a crash leaves unfinished is handled again, a poisonous update not
forever, and a redelivered update is not taken twice."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.runtime.journal import JournalInUse, JournalUnwritable, Unfinished, UpdateJournal

BOT = 111


def test_an_update_delivered_again_is_not_new(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3", BOT)
    assert journal.record([(1, "{}"), (2, "{}")]) == {1, 2}
    # Telegram sends both again (the offset never reached it) and one more.
    assert journal.record([(1, "{}"), (2, "{}"), (3, "{}")]) == {3}
    journal.close()


def test_unfinished_updates_survive_a_restart_and_handled_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path, BOT)
    journal.record([(1, '{"a": 1}'), (2, '{"a": 2}'), (3, '{"a": 3}')])
    journal.begin(1)
    journal.begin(2)
    journal.mark_handled(2)
    journal.close()  # the process dies here (the lock goes with it)

    restarted = UpdateJournal(path, BOT)
    left = restarted.unfinished(max_attempts=3)
    # 1 was in hand (one attempt); 3 was received but never started.
    assert [(u.update_id, u.payload, u.attempts) for u in left.resume] == [
        (1, '{"a": 1}', 1),
        (3, '{"a": 3}', 0),
    ]
    assert left.given_up == []
    restarted.close()


def test_an_update_three_runs_started_and_none_finished_is_given_up(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path, BOT)
    journal.record([(7, "{}"), (8, "{}")])
    journal.close()
    seen = []
    for _ in range(4):
        journal = UpdateJournal(path, BOT)
        left = journal.unfinished(max_attempts=3)
        seen.append(([u.update_id for u in left.resume], [u.update_id for u in left.given_up]))
        for update in left.resume:
            journal.begin(update.update_id)
        journal.mark_handled(8)  # 8 gets through; every run dies while handling 7
        journal.close()
    assert seen == [([7, 8], []), ([7], []), ([7], []), ([], [7])]
    # Given up once: not resumed, and not reported (nor logged) again at every later start.
    journal = UpdateJournal(path, BOT)
    assert journal.unfinished(max_attempts=3) == Unfinished(resume=[], given_up=[])
    journal.close()
    # What the operator looking into an incident finds in the journal.
    with sqlite3.connect(path) as db:
        outcomes = db.execute("SELECT update_id, outcome FROM updates ORDER BY update_id")
        assert outcomes.fetchall() == [(7, "given_up"), (8, "handled")]


def test_a_second_bot_process_cannot_take_the_same_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = UpdateJournal(path, BOT)
    with pytest.raises(JournalInUse, match="in use"):
        UpdateJournal(path, BOT)
    first.close()
    UpdateJournal(path, BOT).close()


def test_a_journal_in_folders_not_made_yet_makes_them(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "data" / "bots" / "j.sqlite3", BOT)
    assert journal.record([(1, "{}")]) == {1}
    journal.close()


def test_the_lock_beside_the_journal_is_a_plain_file_no_one_executes(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        UpdateJournal(tmp_path / "j.sqlite3", BOT).close()
    finally:
        os.umask(previous)
    lock = tmp_path / "j.sqlite3.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o644


def test_a_journal_that_cannot_be_opened_is_named_and_leaves_no_lock_behind(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    path.mkdir()  # a folder where the file should be: SQLite cannot open it
    with pytest.raises(JournalUnwritable, match=f"^{re.escape(str(path))}: unable to open"):
        UpdateJournal(path, BOT)
    path.rmdir()
    # The failed start released its lock: the next one is not refused as a second bot.
    journal = UpdateJournal(path, BOT)
    assert journal.record([(1, "{}")]) == {1}
    journal.close()


def test_a_batch_that_fails_part_way_stores_none_of_it_and_the_journal_goes_on(
    tmp_path: Path,
) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3", BOT)
    # A lone surrogate has no UTF-8 form: SQLite cannot take the second payload.
    with pytest.raises(UnicodeEncodeError):
        journal.record([(1, "{}"), (2, "\ud800")])
    # The first was rolled back with it (it is new when delivered again), and the failed
    # batch left no transaction open for the next one to trip on.
    assert journal.record([(1, "{}"), (3, "{}")]) == {1, 3}
    assert [u.update_id for u in journal.unfinished(3).resume] == [1, 3]
    journal.close()


def test_the_senders_thread_can_note_an_update_handled(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3", BOT)
    journal.record([(1, "{}"), (2, "{}")])
    with ThreadPoolExecutor(1, thread_name_prefix="faqbot-sender") as sender:
        sender.submit(journal.mark_handled, 1).result()
    assert [u.update_id for u in journal.unfinished(3).resume] == [2]
    journal.close()


def test_each_bot_has_its_own_updates(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path, BOT)
    journal.record([(1, "{}")])
    journal.close()
    other = UpdateJournal(path, 222)
    assert other.record([(1, "{}")]) == {1}
    other.mark_handled(1)
    other.close()
    journal = UpdateJournal(path, BOT)
    assert [u.update_id for u in journal.unfinished(3).resume] == [1]
    journal.close()


def test_handled_updates_are_forgotten_after_a_while_unfinished_never(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3", BOT)
    journal.record([(1, "{}"), (2, "{}")])
    journal.mark_handled(1)
    assert journal.forget_handled(older_than_seconds=3600) == 0
    assert journal.forget_handled(older_than_seconds=-1) == 1
    assert [u.update_id for u in journal.unfinished(3).resume] == [2]
