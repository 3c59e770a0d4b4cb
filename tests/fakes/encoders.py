"""Fake encoders and a fake model: texts to fixed vectors, for tests of what surrounds the model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


class FakeEncoder:
    """Looks texts up in `table` and normalises the vector; a text not in it gets the last axis.
    Counts how many texts it was asked to encode."""

    version = "fake-1"

    def __init__(self, table: Mapping[str, Sequence[float]]) -> None:
        self.table = table
        self.dimension = len(next(iter(table.values())))
        self.encoded = 0
        self.recommended: dict[str, float] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        elsewhere = [0.0] * (self.dimension - 1) + [1.0]
        rows = [self.table.get(t, elsewhere) for t in texts]
        matrix = np.asarray(rows, dtype=np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._vectors(texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._vectors(texts)

    async def encode_query(self, text: str) -> np.ndarray:
        return self._vectors([text])[0]


class GatedEncoder(FakeEncoder):
    """A FakeEncoder whose encode_documents (called in a worker thread) notes the texts of each
    call as it begins (`started`), then holds it until the test lets one call through
    (`let_through`), and notes them again once it is done (`finished`).

    A call held longer than `hold_for` seconds fails, so a test that forgets one never hangs.
    """

    def __init__(self, table: Mapping[str, Sequence[float]], hold_for: float = 10.0) -> None:
        super().__init__(table)
        self.hold_for = hold_for
        self.started: list[list[str]] = []
        self.finished: list[list[str]] = []
        self._passes = threading.Semaphore(0)

    def let_through(self, calls: int = 1) -> None:
        """Lets `calls` more calls finish: one held now, or the next one to come."""
        self._passes.release(calls)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        self.started.append(list(texts))
        if not self._passes.acquire(timeout=self.hold_for):
            raise TimeoutError(f"held {self.hold_for:g} s: the test never let this call through")
        vectors = self._vectors(texts)
        self.finished.append(list(texts))
        return vectors


class TableEncoder:
    """Texts to the fixed vectors of `table`, as they are: the same vector as query and phrasing;
    `gate` (if set) holds every question until it is opened."""

    dimension = 2

    def __init__(self, version: str, table: Mapping[str, Sequence[float]]) -> None:
        self.recommended: dict[str, float] = {}
        self.version = version
        self.path = Path(version)
        self.table = table
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)

    encode_queries = encode_documents

    async def encode_query(self, text: str) -> np.ndarray:
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        return self.encode_documents([text])[0]


class SlowModel:
    """Encodes a text as [len(text)], slowly: it notes each batch in `batches` as it comes in,
    then holds it until `release` is set (so a test knows which batch the model holds now)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.release.wait(5)
        return np.asarray([[float(len(t))] for t in texts], dtype=np.float32)
