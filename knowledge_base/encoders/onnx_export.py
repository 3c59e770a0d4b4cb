"""Exporting a sentence-transformers model for ONNX Runtime, checked against PyTorch.

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
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.encoders.base import model_digest, model_prompts
from knowledge_base.encoders.onnx_encoder import OnnxEncoder, OnnxUnavailable
from knowledge_base.encoders.onnx_files import (
    EXPORT_FORMAT,
    ONNX_DATA,
    ONNX_FILE,
    ONNX_META,
    ONNX_SPM,
    ONNX_WORDS,
)
from knowledge_base.encoders.token_ids import HuggingFaceIds, SentencePieceIds, build_sentencepiece

log = logging.getLogger(__name__)

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
# Layouts the export understands: a transformer, mean pooling, optionally normalisation.
_SUPPORTED_MODULES = (
    ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"],
    [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ],
)


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


def export_onnx(path: Path, loaded: Any = None, threads: int = 0) -> OnnxEncoder:
    """Export the model in `path` to `path/model.onnx`, check it against PyTorch, and return
    the ONNX Runtime encoder that passed the check (with `threads`), ready to serve: a model
    exported on its first load is not loaded a second time.

    `loaded`: that model already in memory, with eager attention (a training's, just saved to
    `path`), exported instead of loading it again.

    Written under a temporary name and renamed, so a reader never sees half a file; the meta
    file, written last, is what makes the export count.
    """
    check_exportable(path)
    if not os.access(path, os.W_OK):
        # Before loading torch and the model: a read-only directory is known at once.
        raise OnnxUnavailable(f"{path} is not writable: the export cannot be kept next to it")
    model = loaded or _load_model(path)
    table = model[0].auto_model.get_input_embeddings().weight.detach()
    _write_export(path, model, table)
    worst, encoder = _parity_cosine(path, model, threads)
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
    return encoder


def _load_model(path: Path) -> Any:
    """The model as PyTorch serves it, in float32 on the CPU."""
    from sentence_transformers import SentenceTransformer

    # Eager attention: its graph is the one ONNX Runtime's BERT fusions recognise (the
    # SDPA graph is not), and it computes the same vectors; the parity check proves it.
    return SentenceTransformer(
        str(path),
        device="cpu",
        local_files_only=True,
        model_kwargs={"dtype": "float32", "attn_implementation": "eager"},
    )


def _write_export(path: Path, model: Any, table: Any) -> None:
    """Trace, fuse and save the graph with its weights, word table and SentencePiece model in
    a scratch directory, then move them next to the model's weights; the old export stops
    counting first."""
    import onnx
    import torch

    transformer: Any = model[0].auto_model
    scratch = path / f".onnx-export-{os.getpid()}"
    (path / ONNX_META).unlink(missing_ok=True)
    try:
        scratch.mkdir()
        traced = scratch / "traced.onnx"
        _trace(model, table, traced)
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
        _move_into_place(scratch, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _trace(model: Any, table: Any, traced: Path) -> None:
    """Write the pooled transformer as an ONNX graph taking word-embedding rows."""
    import torch

    sample = model.tokenizer(
        ["query: пример", "passage: пример текста"], padding=True, return_tensors="pt"
    )
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer's notes on shape checks it fixes as constants: the parity check
        # is what proves the graph, on batches of mixed lengths.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _pooled(model[0].auto_model).eval(),
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


def _pooled(transformer: Any) -> Any:
    """The transformer with mean pooling and L2 normalisation, as one torch module."""
    import torch

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

    return Embedding()


def _move_into_place(scratch: Path, path: Path) -> None:
    # The weights first: a graph is never in place without the weights it names.
    os.replace(scratch / ONNX_WORDS, path / ONNX_WORDS)
    if (scratch / ONNX_SPM).is_file():
        os.replace(scratch / ONNX_SPM, path / ONNX_SPM)
    else:
        (path / ONNX_SPM).unlink(missing_ok=True)
    os.replace(scratch / ONNX_DATA, path / ONNX_DATA)
    os.replace(scratch / ONNX_FILE, path / ONNX_FILE)


def _parity_cosine(path: Path, model: Any, threads: int) -> tuple[float, OnnxEncoder]:
    """The smallest cosine between the PyTorch and the ONNX vector of a parity sentence (0
    when the export's vectors are not unit length), and the ONNX encoder that gave them."""
    query_prompt, _ = model_prompts(path, model.prompts)
    expected = model.encode(
        list(PARITY_SENTENCES),
        prompt=query_prompt or None,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    encoder = OnnxEncoder(path, threads=threads, _unchecked=True)
    raw = encoder.encode_queries(PARITY_SENTENCES)
    norms = np.linalg.norm(raw, axis=1)
    # Both sides normalised, so the cosine measures direction; and the graph itself must
    # give unit vectors, as the PyTorch encoder does.
    expected = np.asarray(expected) / np.linalg.norm(expected, axis=1, keepdims=True)
    worst = float((expected * (raw / norms[:, None])).sum(axis=1).min())
    if np.abs(norms - 1.0).max() > 1e-3:
        worst = 0.0
    return worst, encoder


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
