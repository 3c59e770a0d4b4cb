"""A fake clock for code that takes a `clock` and a `sleep`: time passes only when the test says."""

from __future__ import annotations

import asyncio


class FakeClock:
    """`clock()` reads the time as time.monotonic() would; `clock.sleep` waits on it as
    asyncio.sleep would. Every pause asked for is noted in `slept`.

    Held (the default): a sleep ends only once `advance` has moved the time past its end, so a
    test sees what the code does at 29 s and at 30 s. `auto=True`: a sleep moves the time by
    its own length and returns at once, for code that only ever waits (a retry loop).
    """

    def __init__(self, *, auto: bool = False) -> None:
        self.now = 0.0
        self.auto = auto
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._arrived = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.auto:
            self.now += max(seconds, 0.0)
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, wake))
        self._arrived.set()
        try:
            await wake
        finally:
            self._sleepers = [(end, f) for end, f in self._sleepers if f is not wake]

    @property
    def sleepers(self) -> list[float]:
        """When each sleep now held ends, earliest first."""
        return sorted(end for end, wake in self._sleepers if not wake.done())

    async def until_sleeping(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait (in real time, up to `timeout`) until `count` sleeps are held."""
        async with asyncio.timeout(timeout):
            while len(self.sleepers) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def advance(self, seconds: float) -> None:
        """Move the time on; the sleeps that end by then are woken (they run at the next await
        of the test)."""
        self.now += seconds
        for end, wake in self._sleepers:
            if end <= self.now and not wake.done():
                wake.set_result(None)
