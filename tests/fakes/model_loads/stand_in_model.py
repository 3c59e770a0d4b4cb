"""A stand-in for the model, for `faqbot run` processes whose test is not about the model.

A test of the journal, of signals or of kills starts the real `faqbot run` again and again; the
real model would cost a load of seconds (and a model construction) at every start and tell the
test nothing. With FAQBOT_TEST_STAND_IN_MODEL set, `sitecustomize` makes `load_encoder` return
this encoder instead: texts become hashed character trigrams, so a question shares its vector
with itself and is close to a text that shares its words. Everything else in the process is real.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIMENSION = 256
# Seconds the stand-in takes to "load", where a test needs the moment a model loads to last
# (Ctrl+C while it loads): a slow load is what such a test is about.
LOAD_SECONDS_ENV = "FAQBOT_TEST_STAND_IN_LOAD_SECONDS"


class TrigramEncoder:
    """Deterministic vectors: hashed character trigrams of the lower-cased text, normalised."""

    version = "stand-in-trigrams-1"
    dimension = DIMENSION

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.recommended: dict[str, float] = {}

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for start in range(len(padded) - 2):
                matrix[row, zlib.crc32(padded[start : start + 3].encode()) % DIMENSION] += 1.0
            matrix[row, 0] += 1e-3  # an empty text still has a direction
        norms: np.ndarray = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / norms

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors(texts)

    async def encode_query(self, text: str) -> np.ndarray:
        return self._vectors([text])[0]


def load_stand_in(model_path: str | Path, *_: object, **__: object) -> TrigramEncoder:
    """What `load_encoder` returns in a process started with FAQBOT_TEST_STAND_IN_MODEL; it
    says so in the log line the real encoders write when they have loaded."""
    time.sleep(float(os.environ.get(LOAD_SECONDS_ENV) or 0))
    encoder = TrigramEncoder(model_path)
    logging.getLogger("knowledge_base.encoders").info(
        "model loaded: stand-in for %s (%s, dim %d)", model_path, encoder.version, DIMENSION
    )
    return encoder
