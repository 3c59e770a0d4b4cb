"""A damaged update journal is set aside and started afresh; a full disk is named as such."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from bot.runtime.journal import JournalUnwritable, UpdateJournal

BOT = 1


def _journal_with_updates(path: Path, count: int) -> None:
    journal = UpdateJournal(path, BOT)
    journal.record([(n, json.dumps({"update_id": n})) for n in range(count)])
    journal.close()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(b"garbage\n" * 100), id="not a database"),
        pytest.param(
            lambda path: path.write_bytes(path.read_bytes()[: 4096 + 100]), id="truncated"
        ),
    ],
)
def test_a_damaged_journal_is_set_aside_and_a_new_one_started(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "telegram-updates.sqlite3"
    _journal_with_updates(path, 500)  # several pages, so a cut one is missing some
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(path)  # type: ignore[operator]
    with caplog.at_level(logging.INFO):
        journal = UpdateJournal(path, BOT)
    try:
        assert journal.record([(7, "{}")]) == {7}, "the new journal takes updates"
        assert journal.unfinished(3).resume[0].update_id == 7
    finally:
        journal.close()
    [aside] = [
        p
        for p in tmp_path.glob("telegram-updates.sqlite3.corrupt-*")
        if not p.name.endswith(("-wal", "-shm"))
    ]
    assert aside.stat().st_size > 0, "the damaged file is kept for a look"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "moved aside" in errors[0].getMessage() and str(aside) in errors[0].getMessage()


def test_a_journal_in_a_folder_that_cannot_be_made_is_named_in_one_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(JournalUnwritable, match="a-file"):
        UpdateJournal(blocker / "journal.sqlite3", BOT)


def test_a_full_disk_is_reported_as_full_not_as_a_failed_rollback(tmp_path: Path) -> None:
    path = tmp_path / "telegram-updates.sqlite3"
    journal = UpdateJournal(path, BOT)
    try:
        journal.record([(1, "{}")])
        pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
        # SQLite's own "disk full": the file may not grow past its current size.
        journal._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sqlite3.Error, match="full"):
            journal.record([(n, "x" * 2000) for n in range(2, 200)])
    finally:
        journal.close()
