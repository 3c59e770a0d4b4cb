"""The update journal: what a crash leaves unfinished is handled again, a poisonous update not
forever, and a redelivered update is not taken twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.journal import JournalInUse, UpdateJournal

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
    journal = UpdateJournal(path, BOT)
    assert journal.unfinished(max_attempts=3).resume == []
    journal.close()


def test_a_second_bot_process_cannot_take_the_same_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = UpdateJournal(path, BOT)
    with pytest.raises(JournalInUse, match="in use"):
        UpdateJournal(path, BOT)
    first.close()
    UpdateJournal(path, BOT).close()


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
