"""The update journal: what a crash leaves unfinished is handled again, a poisonous update not
forever, and a redelivered update is not taken twice."""

from __future__ import annotations

from pathlib import Path

from bot.journal import UpdateJournal

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
    journal.mark_handled(2)
    # No close(): the process dies here.

    restarted = UpdateJournal(path, BOT)
    left = restarted.unfinished(max_attempts=3)
    assert [(u.update_id, u.payload, u.attempts) for u in left.resume] == [
        (1, '{"a": 1}', 1),
        (3, '{"a": 3}', 1),
    ]
    assert left.given_up == []
    restarted.close()


def test_an_update_that_crashed_every_start_is_given_up_after_three(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path, BOT).record([(7, "{}"), (8, "{}")])
    resumed = []
    for _ in range(4):
        journal = UpdateJournal(path, BOT)
        left = journal.unfinished(max_attempts=3)
        resumed.append(([u.update_id for u in left.resume], [u.update_id for u in left.given_up]))
        journal.mark_handled(8)  # 8 gets through on the first try; 7 kills the process
        journal.close()
    assert resumed == [([7, 8], []), ([7], []), ([7], []), ([], [7])]
    assert UpdateJournal(path, BOT).unfinished(max_attempts=3).resume == []


def test_each_bot_has_its_own_updates(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path, BOT).record([(1, "{}")])
    other = UpdateJournal(path, 222)
    assert other.record([(1, "{}")]) == {1}
    assert [u.update_id for u in other.unfinished(3).resume] == [1]
    assert [u.update_id for u in UpdateJournal(path, BOT).unfinished(3).resume] == [1]


def test_handled_updates_are_forgotten_after_a_while_unfinished_never(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3", BOT)
    journal.record([(1, "{}"), (2, "{}")])
    journal.mark_handled(1)
    assert journal.forget_handled(older_than_seconds=3600) == 0
    assert journal.forget_handled(older_than_seconds=-1) == 1
    assert [u.update_id for u in journal.unfinished(3).resume] == [2]
