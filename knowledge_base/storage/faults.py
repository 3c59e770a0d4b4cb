"""When the database says no: which refusals pass (a lock, a full disk, a read-only file), and
a write retried through them for a bounded time instead of being dropped."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from knowledge_base.types import StoreFault

log = logging.getLogger(__name__)

Result = TypeVar("Result")

# Pauses between attempts: short at first (a lock held for a moment), then every few seconds.
FIRST_PAUSE, LONGEST_PAUSE = 0.2, 5.0
# The bound when the caller names none (DB__WRITE_RETRY_SECONDS).
DEFAULT_RETRY_SECONDS = 120.0

_SIGNS = (
    (StoreFault.LOCKED, ("database is locked", "database table is locked", "busy")),
    (StoreFault.FULL, ("disk is full", "no space left")),
    (StoreFault.READ_ONLY, ("readonly", "read-only", "read only")),
)


class StoreUnavailable(RuntimeError):
    """A write the database kept refusing for the whole bound; nothing of it was stored. The
    message names the fault only: never the statement's parameters (people's questions)."""

    def __init__(self, fault: StoreFault, waited: float) -> None:
        super().__init__(f"the database is {fault.value.replace('_', '-')} ({waited:.0f} s)")
        self.fault = fault


def fault_of(error: BaseException) -> StoreFault | None:
    """The passing fault behind a database error; None for any other error."""
    if not isinstance(error, OperationalError):
        return None
    message = str(error.orig if error.orig is not None else error).lower()
    for fault, signs in _SIGNS:
        if any(sign in message for sign in signs):
            return fault
    return None


class FaultEpisodes:
    """One log line when the database starts refusing writes and one when it takes them
    again, not one per question: a 30-second lock under load is one event, not hundreds."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._fault: StoreFault | None = None

    def refused(self, fault: StoreFault, bound: float) -> None:
        if self._fault is fault:
            return
        self._fault, self._since = fault, self._since or time.monotonic()
        log.error(
            "the database refuses writes (%s); they are retried for up to %.0f s each",
            _describe(fault),
            bound,
        )

    def accepted(self) -> None:
        if self._since is None:
            return
        log.warning("the database takes writes again after %.1f s", time.monotonic() - self._since)
        self._since = self._fault = None


def _describe(fault: StoreFault) -> str:
    return {
        StoreFault.LOCKED: "locked by another writer",
        StoreFault.FULL: "the disk or the database is full",
        StoreFault.READ_ONLY: "the file or its folder is read-only",
    }[fault]


# The process's one record of episodes: every writer reports to it.
EPISODES = FaultEpisodes()


async def write_retrying(
    write: Callable[[], Awaitable[Result]],
    bound: float = DEFAULT_RETRY_SECONDS,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Result:
    """Run `write` (one whole transaction that rolls itself back when it fails) until the
    database takes it; StoreUnavailable once it has refused for `bound` seconds. Errors that
    are not a passing refusal propagate at once. `clock` and `sleep` measure and wait out
    the pauses (a test passes a fake clock's)."""
    deadline = clock() + bound
    pause = FIRST_PAUSE
    while True:
        try:
            result = await write()
        except OperationalError as error:
            fault = fault_of(error)
            if fault is None:
                raise
            EPISODES.refused(fault, bound)
            left = deadline - clock()
            if left <= 0:
                # `from None`: the chained error would print the statement's parameters.
                raise StoreUnavailable(fault, bound) from None
            await sleep(min(pause, left))
            pause = min(pause * 2, LONGEST_PAUSE)
            continue
        EPISODES.accepted()
        return result
