"""The PyTorch encoder: a sentence-transformers model loaded from a local directory."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.encoders.base import (
    ModelNotFoundError,
    PromptedEncoding,
    model_prompts,
    model_version,
    recommended_thresholds,
)

log = logging.getLogger(__name__)

# "organisation/name": a Hugging Face hub id rather than a local directory.
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


class Encoder(PromptedEncoding):
    """A sentence-transformers model with the query/document prompts it was trained with,
    served by PyTorch."""

    backend = "torch"

    def __init__(
        self,
        model_path: str | Path,
        *,
        allow_hub: bool = False,
        max_batch: int = 32,
        loaded: Any = None,
    ) -> None:
        """`loaded`: the SentenceTransformer of `model_path` already in memory (a training's
        model, judged before and after it is trained), served instead of loading it again."""
        path = Path(model_path)
        local = (path / "modules.json").is_file() or (path / "config.json").is_file()
        hub_id = not local and _HUB_ID.fullmatch(str(model_path)) is not None
        if not local and not (allow_hub and hub_id):
            raise ModelNotFoundError(
                f"No sentence-transformers model in {path}. Run `faqbot models bootstrap` to "
                "build the default one, or set MODEL__PATH to a model directory (a hub id such "
                "as intfloat/multilingual-e5-small needs MODEL__ALLOW_HUB=true and a reachable "
                "hub)."
            )
        from sentence_transformers import SentenceTransformer

        self.path = path
        self.version = model_version(path) if local else str(model_path).replace("/", "--")
        self._model = loaded or SentenceTransformer(
            str(model_path), device="cpu", local_files_only=local, model_kwargs={"dtype": "float32"}
        )
        query_prompt, document_prompt = model_prompts(path, self._model.prompts)
        self._query_prompt = query_prompt or None
        self._document_prompt = document_prompt or None
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension() or 0)
        self.recommended = recommended_thresholds(path)
        self._start_batching(max_batch)
        log.info("model loaded: %s (%s, dim %d)", path, self.version, self.dimension)

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt=prompt,
            batch_size=32,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
