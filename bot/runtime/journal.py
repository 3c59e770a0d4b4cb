"""The update journal: each Telegram update is stored before it is confirmed, so none is lost."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    bot_id      INTEGER NOT NULL,
    update_id   INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    received_at REAL    NOT NULL,
    -- how many runs of the bot started handling it
    attempts    INTEGER NOT NULL DEFAULT 0,
    handled_at  REAL,
    -- handled | given_up
    outcome     TEXT,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX IF NOT EXISTS updates_unhandled ON updates (bot_id, handled_at);
"""


class JournalInUse(RuntimeError):
    """Another running bot holds the journal: two pollers would handle the same updates."""


@dataclass(frozen=True)
class JournaledUpdate:
    update_id: int
    payload: str
    # How many runs of the bot started handling it (each one ended before it was done).
    attempts: int


@dataclass(frozen=True)
class Unfinished:
    """What the previous run left: updates to handle again, and those given up on."""

    resume: list[JournaledUpdate]
    given_up: list[JournaledUpdate]


class UpdateJournal:
    """One bot's journal. Its own file, not the knowledge base's database: noting an update
    as handled is one local commit (well under a millisecond, made synchronously) that never
    waits behind the handlers' writes. A crash between a reply and that note repeats the reply
    at the next start, so the note must follow the reply at once.

    WAL with synchronous=NORMAL: every commit survives the process being killed; a power cut
    may undo the last moments (those updates are then handled again).
    """

    def __init__(self, path: Path, bot_id: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise JournalInUse(f"{path} is in use by another running faqbot") from None
        # Autocommit mode: each statement, or each `with self._db` block, is its own commit.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._bot_id = bot_id

    def close(self) -> None:
        self._db.close()
        os.close(self._lock)  # and with it the lock

    def record(self, updates: Sequence[tuple[int, str]]) -> set[int]:
        """Store the updates of one getUpdates; the ids that were new (an update delivered
        again, because its confirmation never reached Telegram, is not)."""
        now = time.time()
        fresh: set[int] = set()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for update_id, payload in updates:
                row = self._db.execute(
                    "INSERT OR IGNORE INTO updates (bot_id, update_id, payload, received_at) "
                    "VALUES (?, ?, ?, ?) RETURNING update_id",
                    (self._bot_id, update_id, payload, now),
                ).fetchone()
                if row is not None:
                    fresh.add(row[0])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return fresh

    def begin(self, update_id: int) -> None:
        """This run starts handling the update: one more attempt."""
        self._db.execute(
            "UPDATE updates SET attempts = attempts + 1 WHERE bot_id = ? AND update_id = ?",
            (self._bot_id, update_id),
        )

    def mark_handled(self, update_id: int, outcome: str = "handled") -> None:
        self._db.execute(
            "UPDATE updates SET handled_at = ?, outcome = ? WHERE bot_id = ? AND update_id = ?",
            (time.time(), outcome, self._bot_id, update_id),
        )

    def unfinished(self, max_attempts: int) -> Unfinished:
        """Updates earlier runs received but did not finish. Those `max_attempts` runs started
        and none finished are closed as given up: each of those runs ended (most likely
        crashed) while handling it, so it may be what crashes the bot."""
        rows = self._db.execute(
            "SELECT update_id, payload, attempts FROM updates "
            "WHERE bot_id = ? AND handled_at IS NULL ORDER BY update_id",
            (self._bot_id,),
        ).fetchall()
        resume: list[JournaledUpdate] = []
        given_up: list[JournaledUpdate] = []
        for update_id, payload, attempts in rows:
            update = JournaledUpdate(update_id, payload, attempts)
            (given_up if attempts >= max_attempts else resume).append(update)
        for update in given_up:
            self.mark_handled(update.update_id, "given_up")
        return Unfinished(resume, given_up)

    def forget_handled(self, older_than_seconds: float) -> int:
        """Drop handled updates received more than `older_than_seconds` ago; how many went."""
        cursor = self._db.execute(
            "DELETE FROM updates WHERE bot_id = ? AND handled_at IS NOT NULL AND received_at < ?",
            (self._bot_id, time.time() - older_than_seconds),
        )
        return cursor.rowcount
