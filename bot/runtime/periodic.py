"""A background task that takes one step, waits, and takes it again, until the bot stops.

The index refresher, the admins' digest and the inbox notices all run this way: a failed step
(a locked database, a broken model) is logged and tried again after the next pause, since it is
no reason to stop for good; the pause is waited out by `sleep`, which a test replaces with a
fake clock's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress


class Periodic:
    def __init__(
        self,
        step: Callable[[], Awaitable[object]],
        pause: Callable[[], float],
        failure: str,
        logger: logging.Logger,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pause_first: bool = True,
    ) -> None:
        """`pause`: seconds between steps, asked anew each time; `failure`: the line `logger`
        logs a failed step with; `pause_first`: wait before the first step rather than after."""
        self._step = step
        self._pause = pause
        self._failure = failure
        self._log = logger
        self._sleep = sleep
        self._pause_first = pause_first
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if not self._pause_first:
            await self._take_step()
        while True:
            await self._sleep(self._pause())
            await self._take_step()

    async def _take_step(self) -> None:
        try:
            await self._step()
        except Exception:  # see the module's docstring
            self._log.exception(self._failure)
