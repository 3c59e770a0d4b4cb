"""The encoder's micro-batching: concurrent questions share one model call, and keep their order."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from knowledge_base.batching import MicroBatcher
from tests.fakes.encoders import SlowModel
from tests.fakes.waiting import wait_until


async def _model_holds(model: SlowModel, batch: list[str]) -> None:
    """Until the worker has handed `batch` to the model, which holds it until released."""
    await wait_until(lambda: model.batches == [batch], 5, f"the model holding {batch}")


async def _queued(batcher: MicroBatcher[str, np.ndarray], count: int) -> None:
    """Until `count` questions wait in the batcher's queue for the next batch."""
    queue = batcher._queue  # the batcher's own queue: what the next batch is made of
    assert queue is not None
    await wait_until(lambda: queue.qsize() == count, 5, f"{count} questions queued")


async def test_questions_that_arrive_while_the_model_is_busy_share_one_call() -> None:
    model = SlowModel()
    batcher = MicroBatcher(model.encode, max_batch=32)
    first = asyncio.create_task(batcher.submit("a"))
    await _model_holds(model, ["a"])
    rest = [asyncio.create_task(batcher.submit("b" * n)) for n in range(2, 12)]
    await _queued(batcher, 10)
    model.release.set()
    vectors = await asyncio.gather(first, *rest)
    assert [float(v[0]) for v in vectors] == [1.0, *range(2, 12)]
    assert [len(batch) for batch in model.batches] == [1, 10]


async def test_a_failing_batch_fails_its_questions_and_the_next_still_works() -> None:
    calls = 0

    def flaky(texts: list[str]) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model exploded")
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = MicroBatcher(flaky, max_batch=4)
    with pytest.raises(RuntimeError, match="exploded"):
        await batcher.submit("first")
    assert (await batcher.submit("second")).tolist() == [1.0, 1.0]


async def test_one_bad_text_fails_only_itself_not_the_questions_batched_with_it() -> None:
    model = SlowModel()

    def refuses_surrogates(texts: list[str]) -> np.ndarray:
        if any("\ud800" in text for text in texts):
            raise ValueError("the tokenizer refuses a lone surrogate")
        return model.encode(texts)

    batcher = MicroBatcher(refuses_surrogates, max_batch=32)
    first = asyncio.create_task(batcher.submit("a"))
    await _model_holds(model, ["a"])
    good = [asyncio.create_task(batcher.submit("b" * n)) for n in range(2, 10)]
    bad = asyncio.create_task(batcher.submit("bad \ud800"))
    await _queued(batcher, 9)  # the rest queue up behind "a"
    model.release.set()
    assert float((await first)[0]) == 1.0
    assert [float((await task)[0]) for task in good] == list(range(2, 10))
    with pytest.raises(ValueError, match="surrogate"):
        await bad
    # The batch of nine failed as a whole; its eight good questions were then encoded alone.
    assert [batch[0] for batch in model.batches] == ["a"] + ["b" * n for n in range(2, 10)]


async def test_an_error_that_is_no_items_fault_fails_the_batch_at_once() -> None:
    calls: list[list[str]] = []

    async def locked(items: list[str]) -> list[str]:
        calls.append(items)
        raise TimeoutError("database is locked")

    batcher = MicroBatcher(locked, 8, retry_alone=lambda error: not isinstance(error, TimeoutError))
    found = await asyncio.gather(
        *(batcher.submit(str(n)) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(error, TimeoutError) for error in found)
    assert calls == [["0", "1", "2", "3", "4"]]  # one try for all, not one more each


async def test_a_batch_answered_short_fails_its_callers_instead_of_leaving_them_waiting() -> None:
    async def loses_one(items: list[str]) -> list[str]:
        return items[:-1] if len(items) > 1 else items

    batcher = MicroBatcher(loses_one, 8)
    found = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(str(n)) for n in range(3)), return_exceptions=True), 5
    )
    # The short batch counts as failed, and its items, tried one by one, are answered.
    assert found == ["0", "1", "2"]
