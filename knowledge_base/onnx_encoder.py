"""Serving a sentence-transformers model with ONNX Runtime: the export, and an encoder that
needs neither torch nor sentence-transformers at run time.

The exported graph is the model's transformer with its mean pooling and L2 normalisation, so
it maps token ids straight to the vector the PyTorch model gives. It is written next to the
weights (`model.onnx`, with `model.onnx.json` naming the model version it was built from) and
checked against PyTorch when it is built: a graph that does not reproduce the model's vectors
(cosine ≥ PARITY_MIN on PARITY_SENTENCES) is never used. That check is also why the embedding
cache is keyed by the model version alone: vectors from either backend are interchangeable, and
those `faqbot train` computes with PyTorch serve an ONNX bot without encoding the base again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.encoder import (
    Encoder,
    MicroBatcher,
    ModelNotFoundError,
    PromptedEncoding,
    TextEncoder,
    model_digest,
    model_prompts,
    model_version,
    recommended_thresholds,
)

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
# The weights, beside the graph: ONNX Runtime maps them instead of reading a copy into memory.
ONNX_DATA = "model.onnx.data"
ONNX_META = "model.onnx.json"
# Bumped whenever the exported graph changes: an export of another format is built again.
EXPORT_FORMAT = 2
# The smallest cosine between the PyTorch and the ONNX vector of any parity sentence.
PARITY_MIN = 0.9999
PARITY_SENTENCES = (
    "Как получить доступ к логам?",
    "не могу зайти в систему, пишет неверный пароль",
    "Инструкция по смене пароля",
    "VPN не подключается из дома: ошибка TLS handshake failed",
    "ошибка 403 forbidden в гитлабе",
    "How do I reset my password?",
    "а",
    "Очень длинный вопрос " * 60,
)
# A batch of texts holds at most this many texts, and this many tokens (texts × longest).
BATCH_TEXTS = 32
BATCH_TOKENS = 2048
# Layouts the export understands: a transformer, mean pooling, optionally normalisation.
_SUPPORTED_MODULES = (
    ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"],
    [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ],
)


class OnnxUnavailable(RuntimeError):
    """This model cannot be served with ONNX Runtime (layout, or a failed export); says why."""


def onnx_ready(path: Path) -> bool:
    """True when `path` holds an export built from the model as it is now."""
    meta = path / ONNX_META
    if not all((path / name).is_file() for name in (ONNX_FILE, ONNX_DATA, ONNX_META)):
        return False
    try:
        built = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # The digest, not the version: `faqbot train` exports in a scratch directory and renames it.
    return built.get("model_digest") == model_digest(path) and built.get("format") == EXPORT_FORMAT


def _module_layout(path: Path) -> tuple[list[str], dict[str, Any]]:
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    types = [m["type"].replace("sentence_transformers.models.modules.", "") for m in modules]
    types = [t.replace("sentence_transformers.base.modules.", "") for t in types]
    pooling: dict[str, Any] = {}
    for module in modules:
        if "Pooling" in module["type"]:
            pooling = json.loads(
                (path / module["path"] / "config.json").read_text(encoding="utf-8")
            )
    return types, pooling


def check_exportable(path: Path) -> None:
    """Raise OnnxUnavailable unless the model is a transformer with mean pooling."""
    if not (path / "modules.json").is_file() or not (path / "tokenizer.json").is_file():
        raise OnnxUnavailable(f"{path} has no modules.json or tokenizer.json")
    types, pooling = _module_layout(path)
    short = [t.rsplit(".", 1)[-1] for t in types]
    if short not in ([s.rsplit(".", 1)[-1] for s in layout] for layout in _SUPPORTED_MODULES):
        raise OnnxUnavailable(f"{path}: modules {short}, not Transformer → Pooling [→ Normalize]")
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens")
    if not mean:
        raise OnnxUnavailable(f"{path}: pooling {pooling}, only mean pooling is exported")


def export_onnx(path: Path) -> Path:
    """Export the model in `path` to `path/model.onnx` and check it against PyTorch.

    Written under a temporary name and renamed, so a reader never sees half a file; the meta
    file, written last, is what makes the export count.
    """
    check_exportable(path)
    if not os.access(path, os.W_OK):
        # Before loading torch and the model: a read-only directory is known at once.
        raise OnnxUnavailable(f"{path} is not writable: the export cannot be kept next to it")
    import onnx
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(path), device="cpu", local_files_only=True, model_kwargs={"dtype": "float32"}
    )
    transformer: Any = model[0].auto_model

    class Embedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer: Any = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            # Always unit length, with or without a Normalize module: the PyTorch encoder
            # asks sentence-transformers for normalised vectors too.
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    sample = model.tokenizer(
        ["query: пример", "passage: пример текста"], padding=True, return_tensors="pt"
    )
    scratch = path / f".onnx-export-{os.getpid()}"
    (path / ONNX_META).unlink(missing_ok=True)
    try:
        scratch.mkdir()
        traced = scratch / "traced.onnx"
        with torch.inference_mode(), warnings.catch_warnings():
            # The tracer's notes on shape checks it fixes as constants: the parity check
            # below is what proves the graph, on batches of mixed lengths.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Embedding().eval(),
                (sample["input_ids"], sample["attention_mask"]),
                str(traced),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        graph = onnx.load(str(traced))
        onnx.save_model(
            graph,
            str(scratch / ONNX_FILE),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=ONNX_DATA,
            size_threshold=1024,
        )
        (scratch / ONNX_DATA).chmod(0o644)  # onnx writes it owner-only; the graph is 0644
        # The weights first: a graph is never in place without the weights it names.
        os.replace(scratch / ONNX_DATA, path / ONNX_DATA)
        os.replace(scratch / ONNX_FILE, path / ONNX_FILE)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    query_prompt, _ = model_prompts(path, model.prompts)
    expected = model.encode(
        list(PARITY_SENTENCES),
        prompt=query_prompt or None,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    raw = OnnxEncoder(path, _unchecked=True).encode_queries(PARITY_SENTENCES)
    norms = np.linalg.norm(raw, axis=1)
    # Both sides normalised, so the cosine measures direction; and the graph itself must
    # give unit vectors, as the PyTorch encoder does.
    expected = np.asarray(expected) / np.linalg.norm(expected, axis=1, keepdims=True)
    worst = float((expected * (raw / norms[:, None])).sum(axis=1).min())
    if np.abs(norms - 1.0).max() > 1e-3:
        worst = 0.0
    if worst < PARITY_MIN:
        for name in (ONNX_FILE, ONNX_DATA):
            (path / name).unlink(missing_ok=True)
        raise OnnxUnavailable(f"{path}: the export reproduces the model to cosine {worst:.6f}")
    meta = {
        "model_digest": model_digest(path),
        "format": EXPORT_FORMAT,
        "parity_min_cosine": round(worst, 7),
    }
    (path / ONNX_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("exported %s (parity cosine %.7f)", path / ONNX_FILE, worst)
    return path / ONNX_FILE


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
        from tokenizers import Tokenizer

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
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        config = _read_json(path / "sentence_bert_config.json")
        max_length = int(config.get("max_seq_length") or 512)
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        self._lowercase = bool(config.get("do_lower_case", False))
        st_config = _read_json(path / "config_sentence_transformers.json")
        query_prompt, document_prompt = model_prompts(path, st_config.get("prompts"))
        self._query_prompt = query_prompt
        self._document_prompt = document_prompt
        self.dimension = int(self._session.get_outputs()[0].shape[-1] or 0) or self._probe()
        self.recommended = recommended_thresholds(path)
        self._batcher = MicroBatcher(self.encode_queries, max_batch)
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
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(encodings), self.dimension), dtype=np.float32)
        batch: list[int] = []
        for i in order:
            width = len(encodings[i].ids)
            if (batch and (len(batch) + 1) * width > BATCH_TOKENS) or len(batch) == BATCH_TEXTS:
                vectors[batch] = self._run([encodings[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            vectors[batch] = self._run([encodings[j] for j in batch])
        return vectors

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        [vectors] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)


def load_encoder(
    model_path: str | Path, backend: str = "onnx", allow_hub: bool = False, threads: int = 0
) -> TextEncoder:
    """The model served by `backend`. With "onnx", a model without a current export is
    exported first (once; it is kept next to the weights); a model ONNX Runtime cannot serve
    (another pooling, a read-only directory, a hub id) is served by PyTorch, and says why."""
    path = Path(model_path)
    if backend == "onnx" and (path / "modules.json").is_file():
        try:
            if not onnx_ready(path):
                log.info("no ONNX export of %s yet: building it (once)", path)
                export_onnx(path)
            return OnnxEncoder(path, threads=threads)
        except Exception as error:  # any failure of export or runtime: PyTorch still serves
            log.warning("ONNX Runtime cannot serve %s (%s); PyTorch serves it", path, error)
    return Encoder(model_path, allow_hub=allow_hub)


def _read_json(file: Path) -> dict[str, Any]:
    if not file.is_file():
        return {}
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return data
