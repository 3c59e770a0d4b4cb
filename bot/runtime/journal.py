"""The update journal: each Telegram update is stored before it is confirmed, so none is lost."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

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


# Set by the polling loop around each update's handler: how to note it as handled.
_REPLY_NOTE: ContextVar[Callable[[], None] | None] = ContextVar("reply_note", default=None)
# Set while the handler sends the message that is the person's reply.
_SENDING_REPLY: ContextVar[Callable[[], None] | None] = ContextVar("sending_reply", default=None)


@contextmanager
def the_reply() -> Iterator[None]:
    """The message sent within this block is the person's reply. Its update is noted as
    handled the instant Telegram confirms it (by the sender, bot/runtime/sending.py), and at
    the latest when the block ends, not once the handler has also closed its session and
    returned: a crash in between would send the reply again at the next start. If the send
    fails, nothing is noted."""
    note = _REPLY_NOTE.get()
    token = _SENDING_REPLY.set(note)
    try:
        yield
    finally:
        _SENDING_REPLY.reset(token)
    if note is not None:
        note()


def pending_reply_note() -> Callable[[], None] | None:
    """For the sender: the note to make once the message now being sent is delivered, if it
    is a person's reply."""
    return _SENDING_REPLY.get()


@contextmanager
def noting_replies(note: Callable[[], None]) -> Iterator[None]:
    """Within this block, `the_reply` notes with `note` (for one update's handler). `note`
    may be called from the sender's thread, and more than once."""
    token = _REPLY_NOTE.set(note)
    try:
        yield
    finally:
        _REPLY_NOTE.reset(token)


class JournalInUse(RuntimeError):
    """Another running bot holds the journal: two pollers would handle the same updates."""


class JournalUnwritable(RuntimeError):
    """The journal's file or folder cannot be written (permissions, a read-only disk)."""


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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise JournalUnwritable(f"{path}: {error.strerror}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise JournalInUse(f"{path} is in use by another running faqbot") from None
        try:
            self._db = _open(path)
        except sqlite3.DatabaseError as error:
            if not _is_corrupt(error):
                os.close(self._lock)
                raise JournalUnwritable(f"{path}: {error}") from None
            self._db = _open(_set_aside(path, error))
        self._bot_id = bot_id
        # The sender's thread notes replies while this one records and begins updates.
        self._guard = threading.RLock()

    def close(self) -> None:
        with self._guard:
            self._db.close()
        os.close(self._lock)  # and with it the lock

    def record(self, updates: Sequence[tuple[int, str]]) -> set[int]:
        """Store the updates of one getUpdates; the ids that were new (an update delivered
        again, because its confirmation never reached Telegram, is not)."""
        now = time.time()
        fresh: set[int] = set()
        with self._guard:
            return self._record(updates, now, fresh)

    def _record(self, updates: Sequence[tuple[int, str]], now: float, fresh: set[int]) -> set[int]:
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
            # SQLite may have rolled back already (a full disk does): a ROLLBACK then fails
            # with "no transaction is active" and would hide the error that matters.
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise
        return fresh

    def begin(self, update_id: int) -> None:
        """This run starts handling the update: one more attempt."""
        with self._guard:
            self._db.execute(
                "UPDATE updates SET attempts = attempts + 1 WHERE bot_id = ? AND update_id = ?",
                (self._bot_id, update_id),
            )

    def mark_handled(self, update_id: int, outcome: str = "handled") -> None:
        with self._guard:
            self._db.execute(
                "UPDATE updates SET handled_at = ?, outcome = ? WHERE bot_id = ? AND update_id = ?",
                (time.time(), outcome, self._bot_id, update_id),
            )

    def unfinished(self, max_attempts: int) -> Unfinished:
        """Updates earlier runs received but did not finish. Those `max_attempts` runs started
        and none finished are closed as given up: each of those runs ended (most likely
        crashed) while handling it, so it may be what crashes the bot."""
        with self._guard:
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
        with self._guard:
            cursor = self._db.execute(
                "DELETE FROM updates "
                "WHERE bot_id = ? AND handled_at IS NOT NULL AND received_at < ?",
                (self._bot_id, time.time() - older_than_seconds),
            )
        return cursor.rowcount


def _open(path: Path) -> sqlite3.Connection:
    # Autocommit mode: each statement, or each `with db` block, is its own commit.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        # Reads every page of the file: a truncated journal fails here, not mid-run.
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("database disk image is malformed")
    except BaseException:
        db.close()
        raise
    return db


def _is_corrupt(error: sqlite3.DatabaseError) -> bool:
    message = str(error).lower()
    return "not a database" in message or "malformed" in message


def _set_aside(path: Path, error: sqlite3.DatabaseError) -> Path:
    """Move a damaged journal (and its -wal/-shm files) aside and return the path to start
    afresh at. What it held unfinished is lost with it; Telegram still holds what it had not
    been told arrived."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(Path(f"{aside}{suffix}"))
    log.error(
        "the update journal %s was damaged (%s): moved aside to %s and started afresh; "
        "updates it held unfinished may not be answered",
        path,
        error,
        aside,
    )
    return path
