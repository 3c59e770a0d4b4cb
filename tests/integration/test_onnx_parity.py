"""ONNX Runtime serves the same vectors and the same ranking as PyTorch, and a model it cannot
serve falls back to PyTorch."""

from __future__ import annotations

import gc
import json
import shutil
import weakref
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.encoders.base import model_version
from knowledge_base.encoders.loading import load_encoder
from knowledge_base.encoders.onnx_encoder import OnnxEncoder, OnnxUnavailable
from knowledge_base.encoders.onnx_export import PARITY_MIN, PARITY_SENTENCES
from knowledge_base.encoders.onnx_files import ONNX_FILE, ONNX_META, onnx_ready
from knowledge_base.encoders.torch_encoder import Encoder
from knowledge_base.io import read_articles, read_eval_set
from knowledge_base.search.vector_index import VectorIndex
from tests.fakes.paths import SAMPLE_BASE, SAMPLE_EVAL
from tests.fakes.samples import parity_sentences


def _sentences() -> list[str]:
    return [*PARITY_SENTENCES, *parity_sentences()]


def test_onnx_vectors_match_pytorch(e5_encoder: Encoder, e5_onnx_encoder: OnnxEncoder) -> None:
    sentences = _sentences()
    for encode in ("encode_queries", "encode_documents"):
        expected = getattr(e5_encoder, encode)(sentences)
        found = getattr(e5_onnx_encoder, encode)(sentences)
        cosines = (expected * found).sum(axis=1)
        print(f"{encode}: {len(sentences)} sentences, lowest cosine {cosines.min():.7f}")
        assert cosines.min() >= PARITY_MIN, sentences[int(cosines.argmin())]
    assert e5_onnx_encoder.version == e5_encoder.version
    assert e5_onnx_encoder.dimension == e5_encoder.dimension


def test_onnx_ranks_the_sample_evaluation_as_pytorch_does(
    e5_encoder: Encoder, e5_onnx_encoder: OnnxEncoder
) -> None:
    drafts = read_articles(SAMPLE_BASE)
    texts = [t for d in drafts for t in (d.title, *d.questions)]
    owners = [i for i, d in enumerate(drafts) for _ in (d.title, *d.questions)]
    queries = [item.query for item in read_eval_set(SAMPLE_EVAL)]
    rankings = []
    for encoder in (e5_encoder, e5_onnx_encoder):
        index = VectorIndex(encoder.encode_documents(texts), owners)
        scores = index.scores(encoder.encode_queries(queries)).ranking
        rankings.append(np.argsort(-scores, axis=1, kind="stable")[:, :3])
    same_first = int((rankings[0][:, 0] == rankings[1][:, 0]).sum())
    same_three = int((rankings[0] == rankings[1]).all(axis=1).sum())
    print(f"same first article {same_first}/{len(queries)}, same top 3 {same_three}")
    assert same_first == len(queries)
    # Three-way near-ties may swap 2nd and 3rd at the sixth decimal; nearly never.
    assert same_three >= len(queries) - 2


async def test_a_model_without_an_export_is_exported_once_and_served_by_onnx(
    base_models: dict[str, Path], minilm_encoder: Encoder, tmp_path: Path
) -> None:
    # A model without a Normalize module: the PyTorch encoder still serves unit vectors, so
    # the export must too.
    model = tmp_path / "all-MiniLM-L6-v2"
    shutil.copytree(
        base_models["all-MiniLM-L6-v2"], model, ignore=shutil.ignore_patterns("model.onnx*")
    )
    modules = json.loads((model / "modules.json").read_text(encoding="utf-8"))
    modules = [m for m in modules if not m["type"].endswith("Normalize")]
    (model / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    assert not onnx_ready(model)

    encoder = load_encoder(model, "onnx")

    assert isinstance(encoder, OnnxEncoder)
    found = encoder.encode_queries(_sentences())
    # PyTorch's vectors of these weights: the run's MiniLM gives them (its Normalize module
    # changes nothing, as the PyTorch encoder normalises in any case).
    expected = minilm_encoder.encode_queries(_sentences())
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    assert (found * expected).sum(axis=1).min() >= PARITY_MIN
    assert onnx_ready(model)
    parity = json.loads((model / ONNX_META).read_text(encoding="utf-8"))["parity_min_cosine"]
    assert parity >= PARITY_MIN
    assert encoder.version == model_version(model)
    exported_at = (model / ONNX_FILE).stat().st_mtime_ns
    again = load_encoder(model, "onnx")
    assert isinstance(again, OnnxEncoder)
    assert (model / ONNX_FILE).stat().st_mtime_ns == exported_at  # not exported again

    # `faqbot run` freezes the start-up objects out of the cycle collector, so a model a swap
    # takes out of service must be freed by reference counting alone: no cycle may hold it.
    await again.encode_query("Как получить доступ к логам?")  # starts its batcher's worker
    freed = weakref.ref(again)
    gc.disable()
    try:
        del again
        assert freed() is None
    finally:
        gc.enable()


def test_an_export_of_other_weights_is_not_used(
    base_models: dict[str, Path], tmp_path: Path
) -> None:
    model = tmp_path / "all-MiniLM-L6-v2"
    shutil.copytree(base_models["all-MiniLM-L6-v2"], model)
    assert onnx_ready(model)  # a copy, renamed directory and all, keeps its export
    meta = json.loads((model / ONNX_META).read_text(encoding="utf-8"))
    (model / ONNX_META).write_text(json.dumps({**meta, "model_digest": "0" * 10}))
    assert not onnx_ready(model)
    with pytest.raises(OnnxUnavailable, match="has no current"):
        OnnxEncoder(model)


def test_a_layout_onnx_cannot_serve_falls_back_to_pytorch(
    base_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "cls-pooling"
    shutil.copytree(
        base_models["all-MiniLM-L6-v2"], model, ignore=shutil.ignore_patterns("model.onnx*")
    )
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8"))
    config = {k: False if k.startswith("pooling_mode_") else v for k, v in config.items()}
    pooling.write_text(json.dumps({**config, "pooling_mode_cls_token": True}), encoding="utf-8")

    encoder = load_encoder(model, "onnx")

    assert isinstance(encoder, Encoder)
    assert "PyTorch serves it" in caplog.text
    assert not (model / ONNX_FILE).exists()
