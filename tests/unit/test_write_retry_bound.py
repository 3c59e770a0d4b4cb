"""The README's bound on a write the database refuses for a while: retried with a growing pause
for up to DB__WRITE_RETRY_SECONDS (120), then given up as unavailable. On a fake clock, with
the bound the default settings give the question log and the clicks (bot/app.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc

from knowledge_base.storage import faults
from knowledge_base.storage.faults import StoreUnavailable, write_retrying
from knowledge_base.types import StoreFault
from tests.fakes.clock import FakeClock
from tests.fakes.settings import make_settings


class _LockedUntil:
    """A write the database refuses as locked until `free_at` on the clock; notes each try."""

    def __init__(self, clock: FakeClock, free_at: float) -> None:
        self.clock = clock
        self.free_at = free_at
        self.tries: list[float] = []

    async def __call__(self) -> str:
        self.tries.append(self.clock.now)
        if self.clock.now < self.free_at:
            raise exc.OperationalError(
                "INSERT …", {}, sqlite3.OperationalError("database is locked")
            )
        return "stored"


@pytest.fixture(autouse=True)
def _own_episodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "EPISODES", faults.FaultEpisodes())


async def test_a_write_refused_for_almost_120_s_lands(tmp_path: Path) -> None:
    bound = make_settings(tmp_path).db.write_retry_seconds
    clock = FakeClock(auto=True)
    write = _LockedUntil(clock, free_at=119.9)
    assert await write_retrying(write, bound, clock=clock, sleep=clock.sleep) == "stored"
    assert write.tries[-1] == pytest.approx(120.0)
    # A growing pause: short at first (a lock held for a moment), then every 5 s.
    assert clock.slept[:7] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])


async def test_a_write_refused_past_120_s_is_given_up_at_120_s_and_not_before(
    tmp_path: Path,
) -> None:
    bound = make_settings(tmp_path).db.write_retry_seconds
    clock = FakeClock(auto=True)
    write = _LockedUntil(clock, free_at=120.1)
    with pytest.raises(StoreUnavailable) as raised:
        await write_retrying(write, bound, clock=clock, sleep=clock.sleep)
    assert raised.value.fault is StoreFault.LOCKED
    assert write.tries[-1] == pytest.approx(120.0), "tried until the bound"
    assert clock.now == pytest.approx(120.0), "and gave up there, without waiting longer"
