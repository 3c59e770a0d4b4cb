"""The background tasks' loop (index refresh, digest, inbox notices): a step, a pause, again; a
failed step is logged and the next one still comes; stop ends it."""

from __future__ import annotations

import logging

import pytest

from bot.runtime.periodic import Periodic
from tests.fakes.clock import FakeClock

LOG = logging.getLogger("tests.periodic")


@pytest.mark.parametrize("pause_first", [True, False])
async def test_steps_come_a_pause_apart_and_a_failed_one_is_logged_not_fatal(
    pause_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    taken: list[float] = []

    async def step() -> None:
        taken.append(clock())
        if len(taken) == 1:
            raise OSError("database is locked")

    periodic = Periodic(
        step, lambda: 30.0, "the step failed", LOG, sleep=clock.sleep, pause_first=pause_first
    )
    periodic.start()
    for _ in range(3):
        await clock.until_sleeping()
        clock.advance(30.0)
    await clock.until_sleeping()
    await periodic.stop()
    first = 30.0 if pause_first else 0.0
    assert taken == [first, first + 30.0, first + 60.0, first + 90.0][: len(taken)]
    assert len(taken) == (3 if pause_first else 4)
    failures = [r for r in caplog.records if r.name == "tests.periodic"]
    assert [r.getMessage() for r in failures] == ["the step failed"]
    assert failures[0].exc_info is not None


async def test_stop_before_start_or_twice_is_harmless() -> None:
    async def step() -> None:
        raise AssertionError("never taken")

    periodic = Periodic(step, lambda: 30.0, "failed", LOG, sleep=FakeClock().sleep)
    await periodic.stop()
    periodic.start()
    await periodic.stop()
    await periodic.stop()
