"""Fake encoders and a fake model: texts to fixed vectors, for tests of what surrounds the model."""

from __future__ import annotations

import asyncio
import threading
import time
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


class SlowEncoder(FakeEncoder):
    """A FakeEncoder that takes `seconds_per_text` for each phrasing and counts those finished."""

    def __init__(self, table: Mapping[str, Sequence[float]], seconds_per_text: float) -> None:
        super().__init__(table)
        self.seconds_per_text = seconds_per_text
        self.finished_texts = 0

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.seconds_per_text * len(texts))
        self.finished_texts += len(texts)
        return self._vectors(texts)


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
    """Encodes a text as [len(text)], slowly, recording the batches it was given: it holds each
    batch until `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.release.wait(5)
        return np.asarray([[float(len(t))] for t in texts], dtype=np.float32)
