"""Serving a sentence-transformers model with ONNX Runtime: the export, and an encoder that
needs neither torch nor sentence-transformers at run time.

The exported graph is the model's transformer with its mean pooling and L2 normalisation, so
it maps the rows of a text's tokens in the word-embedding table (read by WordTable from
`model.onnx.words`) straight to the vector the PyTorch model gives. It is written next to the
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

from knowledge_base.encoders.base import (
    Encoder,
    ModelNotFoundError,
    PromptedEncoding,
    TextEncoder,
    model_digest,
    model_prompts,
    model_version,
    read_json,
    recommended_thresholds,
)
from knowledge_base.encoders.token_ids import (
    HuggingFaceIds,
    SentencePieceIds,
    TokenIds,
    build_sentencepiece,
)

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
# The weights, beside the graph: ONNX Runtime maps them instead of reading a copy into memory.
ONNX_DATA = "model.onnx.data"
ONNX_META = "model.onnx.json"
# The word-embedding table (float32 rows, one per token id), read row by row outside the graph.
ONNX_WORDS = "model.onnx.words"
# tokenizer.json as a SentencePiece model, when it is one (see knowledge_base.encoders.token_ids).
ONNX_SPM = "model.onnx.spm"
# Bumped whenever the exported graph changes: an export of another format is built again.
# 3: attention, layer norms and GELU fused into ONNX Runtime's own kernels (BERT models); the
# word-embedding table out of the graph (ONNX_WORDS), the graph taking the looked-up rows.
EXPORT_FORMAT = 3
# Word-embedding rows kept in memory after a lookup (1.5 KB each for a 384-wide model).
WORD_CACHE_ROWS = 20_000
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
    if not all((path / name).is_file() for name in (ONNX_FILE, ONNX_DATA, ONNX_WORDS, ONNX_META)):
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

    # Eager attention: its graph is the one ONNX Runtime's BERT fusions recognise (the
    # SDPA graph is not), and it computes the same vectors; the parity check below proves it.
    model = SentenceTransformer(
        str(path),
        device="cpu",
        local_files_only=True,
        model_kwargs={"dtype": "float32", "attn_implementation": "eager"},
    )
    transformer: Any = model[0].auto_model

    class Embedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer: Any = transformer

        def forward(self, words: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                inputs_embeds=words, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            # Always unit length, with or without a Normalize module: the PyTorch encoder
            # asks sentence-transformers for normalised vectors too.
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    sample = model.tokenizer(
        ["query: пример", "passage: пример текста"], padding=True, return_tensors="pt"
    )
    table = transformer.get_input_embeddings().weight.detach()
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
                (table[sample["input_ids"]], sample["attention_mask"]),
                str(traced),
                input_names=["words", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "words": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        graph = _fused(traced, transformer.config) or onnx.load(str(traced))
        onnx.save_model(
            graph,
            str(scratch / ONNX_FILE),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=ONNX_DATA,
            size_threshold=1024,
        )
        (scratch / ONNX_DATA).chmod(0o644)  # onnx writes it owner-only; the graph is 0644
        table.to(torch.float32).numpy().astype("<f4").tofile(scratch / ONNX_WORDS)
        _sentencepiece(path, scratch / ONNX_SPM)
        # The weights first: a graph is never in place without the weights it names.
        os.replace(scratch / ONNX_WORDS, path / ONNX_WORDS)
        if (scratch / ONNX_SPM).is_file():
            os.replace(scratch / ONNX_SPM, path / ONNX_SPM)
        else:
            (path / ONNX_SPM).unlink(missing_ok=True)
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
        for name in (ONNX_FILE, ONNX_DATA, ONNX_WORDS, ONNX_SPM):
            (path / name).unlink(missing_ok=True)
        raise OnnxUnavailable(f"{path}: the export reproduces the model to cosine {worst:.6f}")
    meta = {
        "model_digest": model_digest(path),
        "format": EXPORT_FORMAT,
        "parity_min_cosine": round(worst, 7),
        "words": list(table.shape),
    }
    (path / ONNX_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("exported %s (parity cosine %.7f)", path / ONNX_FILE, worst)
    return path / ONNX_FILE


def _sentencepiece(path: Path, target: Path) -> None:
    """Write tokenizer.json as a SentencePiece model at `target` if it is one and gives the
    same ids on the parity sentences (prompted as questions and as documents)."""
    try:
        if not build_sentencepiece(path / "tokenizer.json", target):
            return
        prompts = ("query: ", "passage: ", "")
        texts = [f"{prompt}{s}" for prompt in prompts for s in PARITY_SENTENCES]
        built = SentencePieceIds(target, 512).encode_batch(texts)
        if built != HuggingFaceIds(path / "tokenizer.json", 512).encode_batch(texts):
            log.warning("the SentencePiece form of %s gives other ids; not used", path)
            target.unlink()
    except Exception as error:  # tokenizer.json serves
        log.warning("cannot write %s as SentencePiece (%s)", path / "tokenizer.json", error)
        target.unlink(missing_ok=True)


def _fused(traced: Path, config: Any) -> Any:
    """The traced graph with ONNX Runtime's transformer fusions (one Attention kernel per
    layer, SkipLayerNormalization, BiasGelu): about a quarter less
    time per question on CPU, the same vectors. None when the model is not a BERT or the
    optimiser fails; the plain graph serves then."""
    if getattr(config, "model_type", None) != "bert":
        return None
    try:
        import onnx
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimized = optimize_model(
                str(traced),
                model_type="bert",
                num_heads=int(config.num_attention_heads),
                hidden_size=int(config.hidden_size),
                opt_level=0,
                optimization_options=FusionOptions("bert"),
            )
        graph = optimized.model
        # The fused kernels are ONNX Runtime's own operators: declare their domain, as a
        # well-formed model must (onnx's checker and shape inference look for it).
        if not any(o.domain == "com.microsoft" for o in graph.opset_import):
            graph.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
        return graph
    except Exception as error:  # the unfused graph is still correct
        log.warning("ONNX Runtime could not fuse %s (%s); exporting it unfused", traced, error)
        return None


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
