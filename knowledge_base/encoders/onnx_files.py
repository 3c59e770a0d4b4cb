"""The files an ONNX export keeps beside a model's weights, and whether they are current."""

from __future__ import annotations

import json
from pathlib import Path

from knowledge_base.encoders.base import model_digest

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
