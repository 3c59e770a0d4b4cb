"""The encoder protocol and what every runtime shares: prompts, micro-batching, and a model
directory's identity and recommendations."""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from knowledge_base.batching import MicroBatcher

# Files that define a model's behaviour; the version hash covers them.
_IDENTITY_FILES = (
    "config.json",
    "modules.json",
    "config_sentence_transformers.json",
    "tokenizer.json",
    "vocab.txt",
)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class ModelNotFoundError(RuntimeError):
    """The configured model directory does not exist or is not a sentence-transformers model."""


def model_version(path: Path) -> str:
    """A short, stable name of a model directory: its name plus a digest of what defines it."""
    return f"{path.name}-{model_digest(path)}"


def model_digest(path: Path) -> str:
    """A digest of the files that define a model, whatever its directory is called.

    It reads the small definition files whole and the first MiB of the weights, so it is cheap
    at every start and changes whenever the model does.
    """
    digest = hashlib.sha256()
    for name in _IDENTITY_FILES + _WEIGHT_FILES:
        file = path / name
        if not file.is_file():
            continue
        digest.update(name.encode())
        digest.update(str(file.stat().st_size).encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:10]


class TextEncoder(Protocol):
    """What search needs from a model, whichever runtime serves it."""

    path: Path
    version: str
    dimension: int
    recommended: dict[str, float]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    async def encode_query(self, text: str) -> np.ndarray: ...


class PromptedEncoding:
    """Queries and documents encoded with their own prompts; one question at a time through
    the micro-batcher. A runtime provides `_encode(texts, prompt)`."""

    _query_prompt: str | None
    _document_prompt: str | None
    _batcher: MicroBatcher[str, np.ndarray]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._document_prompt)

    async def encode_query(self, text: str) -> np.ndarray:
        """One question's vector; concurrent questions are encoded together in one batch."""
        return await self._batcher.submit(text)

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        raise NotImplementedError

    def _start_batching(self, max_batch: int) -> None:
        # The batcher holds the encoder through a weak reference. A strong one would make a
        # reference cycle (encoder → batcher → bound method → encoder) that only the cycle
        # collector frees, at its own pace: a model a swap took out of service is freed the
        # moment the last question it was answering is done.
        method = weakref.WeakMethod(self.encode_queries)

        def encode(texts: list[str]) -> np.ndarray:
            bound = method()
            if bound is None:
                raise RuntimeError("this model was taken out of service")
            return bound(texts)

        self._batcher = MicroBatcher(encode, max_batch)


def model_prompts(path: Path, prompts: Mapping[str, str | None] | None) -> tuple[str, str]:
    """The (query, document) prompts a model was trained with ("" for none)."""
    found = dict(prompts or {})
    if not found.get("query") and "e5" in path.name.lower():
        # e5 models were trained with these prefixes; a copy without prompts still needs them.
        found = {"query": "query: ", "passage": "passage: "}
    return found.get("query") or "", found.get("passage") or found.get("document") or ""


def read_json(file: Path) -> dict[str, Any]:
    """A model directory's JSON file; empty if the directory has none."""
    if not file.is_file():
        return {}
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return data


def recommended_thresholds(path: Path) -> dict[str, float]:
    """Thresholds a model directory recommends in `faqbot.json` (written when it was built)."""
    found = read_json(path / "faqbot.json").get("thresholds", {})
    return {k: float(v) for k, v in found.items()}


def recommended_lexical_weight(path: Path) -> float | None:
    """The lexical channel's weight a model directory recommends in `faqbot.json`: measured
    for a base model, chosen on held-out questions by `faqbot train`; None if it says none."""
    value = read_json(path / "faqbot.json").get("lexical_weight")
    return None if value is None else float(value)
