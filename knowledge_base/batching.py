"""Micro-batching: what arrives while one batch is processed is processed next, all at once."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# A micro-batcher's worker ends after this long without work.
_IDLE_SECONDS = 60.0


class MicroBatcher(Generic[Item, Result]):
    """Collects the items submitted while the previous batch is processed and processes them
    at once: one result per item, in order.

    The encoder batches questions with it (torch and ONNX Runtime already use every core for
    one batch, so two encodes side by side only fight), and the question log batches its
    writes (one transaction for every question that came in meanwhile, instead of each
    waiting its turn for SQLite's single writer). `process` is a coroutine function, or a
    plain function, which then runs in a worker thread.

    When a batch fails, its items are tried one by one, so that one bad item fails alone;
    unless `retry_alone(error)` says the error is not an item's (a locked database): then the
    whole batch fails at once rather than each item waiting out the same error in turn.
    """

    def __init__(
        self,
        process: Callable[[list[Item]], Iterable[Result]]
        | Callable[[list[Item]], Awaitable[Iterable[Result]]],
        max_batch: int,
        retry_alone: Callable[[Exception], bool] = lambda _error: True,
    ) -> None:
        self._process = process
        self._retry_alone = retry_alone
        self._is_coroutine = inspect.iscoroutinefunction(process)
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            # A new event loop (a test, a restart) gets its own queue and worker.
            self._loop = loop
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue))
        assert self._queue is not None
        future: asyncio.Future[Result] = loop.create_future()
        await self._queue.put((item, future))
        return await future

    async def _call(self, items: list[Item]) -> Iterable[Result]:
        if self._is_coroutine:
            return await self._process(items)  # type: ignore[misc]
        found: Any = await asyncio.to_thread(self._process, items)
        return found  # type: ignore[no-any-return]

    async def _run(self, queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]]]) -> None:
        while True:
            try:
                first = await asyncio.wait_for(queue.get(), _IDLE_SECONDS)
            except TimeoutError:
                if queue.empty():
                    # An idle worker ends, so a model swapped out of service can be freed;
                    # the next item starts a new one. Nothing runs between the check and
                    # the return, so no item is left behind.
                    return
                continue
            batch = [first]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._process_batch(batch)
            except BaseException:
                # The worker is cancelled (its loop closes): nobody may wait for it forever.
                for _, future in batch:
                    if not future.done():
                        future.cancel()
                raise

    async def _process_batch(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = list(await self._call([item for item, _ in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception as error:
            if len(batch) == 1 or not self._retry_alone(error):
                # The callers get the error; the worker lives on.
                for _, future in batch:
                    _settle(future, error=error)
                return
            # One bad item must not fail the others that happened to share its batch:
            # process them one by one, so only the bad one fails.
            for item, future in batch:
                if future.done():  # its caller gave up meanwhile
                    continue
                try:
                    [result] = await self._call([item])
                except Exception as single:
                    _settle(future, error=single)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[Any], result: Any = None, error: Any = None) -> None:
    if future.done():  # the caller gave up (a cancelled update)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
