"""Serving a model with ONNX Runtime: neither torch nor sentence-transformers at run time.

The graph it runs is built and checked against PyTorch by knowledge_base.encoders.onnx_export:
it takes the rows of a text's tokens in the word-embedding table (read by WordTable from
`model.onnx.words`) and gives the vector the PyTorch model gives.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge_base.encoders.base import (
    ModelNotFoundError,
    PromptedEncoding,
    model_prompts,
    model_version,
    read_json,
    recommended_thresholds,
)
from knowledge_base.encoders.onnx_files import ONNX_FILE, ONNX_SPM, ONNX_WORDS, onnx_ready
from knowledge_base.encoders.token_ids import HuggingFaceIds, SentencePieceIds, TokenIds

log = logging.getLogger(__name__)

# Word-embedding rows kept in memory after a lookup (1.5 KB each for a 384-wide model).
WORD_CACHE_ROWS = 20_000
# A batch of texts holds at most this many texts, and this many tokens (texts × longest).
BATCH_TEXTS = 32
BATCH_TOKENS = 2048


class OnnxUnavailable(RuntimeError):
    """This model cannot be served with ONNX Runtime (layout, or a failed export); says why."""


class WordTable:
    """A model's word-embedding rows, read from disk as the texts need them.

    Not mapped into memory: the kernel maps whole runs of a mapped file's cached pages around
    each row looked up, and 157 questions made 300 of the table's 370 MB count as the bot's
    memory. A read costs about a microsecond, and only the rows read are kept: up to
    WORD_CACHE_ROWS of them (30 MB), the cache starting afresh when full.
    """

    def __init__(self, file: Path, dimension: int) -> None:
        self._fd = os.open(file, os.O_RDONLY)
        self._row_bytes = dimension * 4
        self.dimension = dimension
        self.rows, rest = divmod(os.fstat(self._fd).st_size, self._row_bytes)
        if rest or not self.rows:
            os.close(self._fd)
            raise OnnxUnavailable(f"{file} is not a table of {dimension}-wide float32 rows")
        self._cache: dict[int, np.ndarray] = {}

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """The rows of these token ids, in their shape plus one axis of `dimension`."""
        unique, inverse = np.unique(ids, return_inverse=True)
        if len(unique) and not 0 <= unique[0] <= unique[-1] < self.rows:
            raise ValueError(f"token id out of the word table (0..{self.rows - 1})")
        found = np.empty((len(unique), self.dimension), dtype=np.float32)
        cache = self._cache
        for k, token in enumerate(unique.tolist()):
            row = cache.get(token)
            if row is None:
                data = os.pread(self._fd, self._row_bytes, token * self._row_bytes)
                row = np.frombuffer(data, dtype="<f4")
                if len(cache) >= WORD_CACHE_ROWS:
                    cache.clear()
                cache[token] = row
            found[k] = row
        return found[inverse.reshape(-1)].reshape(*ids.shape, self.dimension)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class OnnxEncoder(PromptedEncoding):
    """The Encoder interface on ONNX Runtime: the same prompts, truncation and vectors."""

    backend = "onnx"

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_batch: int = 32,
        threads: int = 0,
        _unchecked: bool = False,
    ) -> None:
        path = Path(model_path)
        if not (path / "modules.json").is_file():
            raise ModelNotFoundError(f"No sentence-transformers model in {path}.")
        if not _unchecked and not onnx_ready(path):
            raise OnnxUnavailable(f"{path} has no current {ONNX_FILE}; run export_onnx first")
        import onnxruntime

        self.path = path
        self.version = model_version(path)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Threads sleep between questions instead of spinning: a spinning pool keeps both cores
        # busy after every question and starves the event loop that handles the next updates.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No arena: memory a batch of long texts needed is given back, not kept for good.
        options.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(
            str(path / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        [words, _mask] = self._session.get_inputs()
        self._words = WordTable(path / ONNX_WORDS, int(words.shape[-1]))
        config = read_json(path / "sentence_bert_config.json")
        max_length = int(config.get("max_seq_length") or 512)
        self._tokenizer = _token_ids(path, max_length)
        self._lowercase = bool(config.get("do_lower_case", False))
        st_config = read_json(path / "config_sentence_transformers.json")
        query_prompt, document_prompt = model_prompts(path, st_config.get("prompts"))
        self._query_prompt = query_prompt
        self._document_prompt = document_prompt
        self.dimension = int(self._session.get_outputs()[0].shape[-1] or 0) or self._probe()
        self.recommended = recommended_thresholds(path)
        self._start_batching(max_batch)
        log.info(
            "model loaded with ONNX Runtime: %s (%s, dim %d)", path, self.version, self.dimension
        )

    def _probe(self) -> int:
        return int(self._run(self._tokenizer.encode_batch(["a"])).shape[-1])

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompted = [(prompt or "") + t for t in texts]
        if self._lowercase:
            prompted = [t.lower() for t in prompted]
        encodings = self._tokenizer.encode_batch(prompted)
        # Sorted by length and run in batches of similar length, as sentence-transformers
        # does: padding a short question to a long one costs time, not accuracy. A batch holds
        # at most BATCH_TOKENS tokens, so a base of long phrasings never needs gigabytes.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]))
        vectors = np.zeros((len(encodings), self.dimension), dtype=np.float32)
        batch: list[int] = []
        for i in order:
            width = len(encodings[i])
            if (batch and (len(batch) + 1) * width > BATCH_TOKENS) or len(batch) == BATCH_TEXTS:
                vectors[batch] = self._run([encodings[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            vectors[batch] = self._run([encodings[j] for j in batch])
        return vectors

    def _run(self, encodings: list[list[int]]) -> np.ndarray:
        width = max(len(e) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding)] = encoding
            mask[row, : len(encoding)] = 1
        words = self._words.lookup(ids)
        [vectors] = self._session.run(None, {"words": words, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)


def _token_ids(path: Path, max_length: int) -> TokenIds:
    """The export's SentencePiece model where it has one (a fifth of the memory), else the
    model's tokenizer.json."""
    if (path / ONNX_SPM).is_file():
        try:
            return SentencePieceIds(path / ONNX_SPM, max_length)
        except Exception as error:  # tokenizer.json gives the same ids
            log.warning("cannot load %s (%s); using tokenizer.json", path / ONNX_SPM, error)
    return HuggingFaceIds(path / "tokenizer.json", max_length)
