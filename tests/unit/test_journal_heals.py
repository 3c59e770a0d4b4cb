"""A damaged update journal is set aside and started afresh; a full disk is named as such."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from bot.runtime.journal import JournalUnwritable, UpdateJournal

BOT = 1


def _journal_with_updates(path: Path, count: int) -> None:
    journal = UpdateJournal(path, BOT)
    journal.record([(n, json.dumps({"update_id": n})) for n in range(count)])
    journal.close()


def _set_aside(path: Path) -> Path:
    [aside] = [
        p
        for p in path.parent.glob(f"{path.name}.corrupt-*")
        if not p.name.endswith(("-wal", "-shm"))
    ]
    return aside


def _reported(caplog: pytest.LogCaptureFixture, path: Path, aside: Path, reason: str) -> bool:
    """The one ERROR line: which journal, why, where it went, and what it may cost."""
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return errors == [
        f"the update journal {path} was damaged ({reason}): moved aside to {aside} and started "
        "afresh; updates it held unfinished may not be answered"
    ]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(
            lambda path: path.write_bytes(b"garbage\n" * 100),
            "file is not a database",
            id="not a database",
        ),
        pytest.param(
            lambda path: path.write_bytes(path.read_bytes()[: 4096 + 100]),
            "database disk image is malformed",
            id="truncated",
        ),
    ],
)
def test_a_damaged_journal_is_set_aside_and_a_new_one_started(
    tmp_path: Path, damage: object, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "telegram-updates.sqlite3"
    _journal_with_updates(path, 500)  # several pages, so a cut one is missing some
    # Someone has the journal open (an operator's sqlite3 shell): its -wal and -shm files
    # stay beside it, and must go aside with it, or the new journal would take them as its own.
    reader = sqlite3.connect(path)
    try:
        reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        damage(path)  # type: ignore[operator]
        with caplog.at_level(logging.INFO):
            journal = UpdateJournal(path, BOT)
        try:
            assert journal.record([(7, "{}")]) == {7}, "the new journal takes updates"
            assert journal.unfinished(3).resume[0].update_id == 7
        finally:
            journal.close()
    finally:
        reader.close()
    aside = _set_aside(path)
    assert aside.stat().st_size > 0, "the damaged file is kept for a look"
    assert Path(f"{aside}-wal").exists() and Path(f"{aside}-shm").exists()
    # Named for when it happened, so a second damage does not overwrite the first.
    assert re.fullmatch(rf"{re.escape(path.name)}\.corrupt-\d{{8}}-\d{{6}}", aside.name)
    assert _reported(caplog, path, aside, reason)


def test_damage_only_the_check_at_start_finds_sets_the_journal_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "telegram-updates.sqlite3"
    _journal_with_updates(path, 3)
    # A NULL payload, slipped past the NOT NULL rule by editing the schema around it: SQLite
    # opens and reads this file without complaint; only the page-by-page check finds it.
    not_null, nullable = "'payload     TEXT    NOT NULL'", "'payload TEXT'"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA writable_schema = ON")
        db.execute(f"UPDATE sqlite_master SET sql = replace(sql, {not_null}, {nullable})")
        db.execute("PRAGMA writable_schema = RESET")
        db.execute("UPDATE updates SET payload = NULL WHERE update_id = 1")
        db.execute("PRAGMA writable_schema = ON")
        db.execute(f"UPDATE sqlite_master SET sql = replace(sql, {nullable}, {not_null})")
        db.execute("PRAGMA writable_schema = RESET")
        assert db.execute("PRAGMA quick_check").fetchall() == [("NULL value in updates.payload",)]
    finally:
        db.close()
    with caplog.at_level(logging.INFO):
        journal = UpdateJournal(path, BOT)
    try:
        assert journal.unfinished(3).resume == [], "started afresh"
    finally:
        journal.close()
    assert _reported(caplog, path, _set_aside(path), "database disk image is malformed")


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
