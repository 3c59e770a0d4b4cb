"""The ONNX encoder's lean parts give what the model's own files give: SentencePiece the ids
of tokenizer.json, the word table the rows of the embedding matrix."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from knowledge_base.encoders.onnx_encoder import OnnxEncoder, WordTable, _token_ids
from knowledge_base.encoders.onnx_files import ONNX_SPM, ONNX_WORDS
from knowledge_base.encoders.token_ids import HuggingFaceIds, SentencePieceIds, build_sentencepiece
from knowledge_base.io import read_articles, read_eval_set
from tests.fakes.paths import SAMPLE_BASE, SAMPLE_EVAL
from tests.fakes.samples import parity_sentences


def _texts() -> list[str]:
    texts = [item.query for item in read_eval_set(SAMPLE_EVAL)]
    texts += [t for d in read_articles(SAMPLE_BASE) for t in (d.title, d.body, *d.questions)]
    texts += parity_sentences()
    texts += ["Очень длинный вопрос " * 300, "ошибка ORA-28000 в 1С", "", "   "]
    # Text that ends in what normalisation turns into a space, or into nothing.
    texts += ["vpn\u200b", "abc\x1f", "abc\x85", "x \x7f", " \u200b", "x\u3000", "a  b\t"]
    return [f"{prompt}{t}" for prompt in ("query: ", "passage: ", "") for t in texts]


def test_sentencepiece_gives_the_ids_of_tokenizer_json(base_models: dict[str, Path]) -> None:
    model = base_models["multilingual-e5-small"]
    assert (model / ONNX_SPM).is_file()  # the export wrote it for e5's Unigram tokenizer
    texts = _texts()

    found = SentencePieceIds(model / ONNX_SPM, 512).encode_batch(texts)
    expected = HuggingFaceIds(model / "tokenizer.json", 512).encode_batch(texts)

    differ = [t for t, a, b in zip(texts, found, expected, strict=True) if a != b]
    print(f"{len(texts)} texts, {len(differ)} with other ids")
    assert differ == []
    assert max(len(ids) for ids in found) == 512  # truncated as tokenizers truncates


def test_a_wordpiece_tokenizer_is_left_to_tokenizers(
    base_models: dict[str, Path], tmp_path: Path
) -> None:
    model = base_models["all-MiniLM-L6-v2"]
    assert not build_sentencepiece(model / "tokenizer.json", tmp_path / "mini.spm")
    assert not (tmp_path / "mini.spm").exists()
    assert not (model / ONNX_SPM).exists()
    assert isinstance(_token_ids(model, 256), HuggingFaceIds)


def test_a_sentencepiece_file_that_does_not_load_falls_back_to_tokenizer_json(
    base_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "tokenizer.json").symlink_to(
        base_models["multilingual-e5-small"] / "tokenizer.json"
    )
    (tmp_path / ONNX_SPM).write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING):
        ids = _token_ids(tmp_path, 512)
    assert isinstance(ids, HuggingFaceIds)
    assert "using tokenizer.json" in caplog.text
    assert ids.encode_batch(["query: логи"])[0][0] == 0


def test_the_word_table_holds_the_rows_of_the_embedding_matrix(
    base_models: dict[str, Path], e5_onnx_encoder: OnnxEncoder
) -> None:
    model = base_models["multilingual-e5-small"]
    weights = load_file(str(model / "model.safetensors"))
    [name] = [k for k in weights if k.endswith("word_embeddings.weight")]
    matrix = weights[name].astype(np.float32)
    table = WordTable(model / ONNX_WORDS, matrix.shape[1])
    assert table.rows == matrix.shape[0]

    ids = np.array([[0, 5, 250001, 5], [2, 17, 17, 1]])
    np.testing.assert_array_equal(table.lookup(ids), matrix[ids])
    np.testing.assert_array_equal(table.lookup(ids), matrix[ids])  # from its cache
    with pytest.raises(ValueError):
        table.lookup(np.array([[matrix.shape[0]]]))
    # The encoder serving the tests reads its words this way, and SentencePiece ids.
    assert isinstance(e5_onnx_encoder._tokenizer, SentencePieceIds)


def test_a_unigram_tokenizer_that_keeps_double_spaces_is_left_to_tokenizers(
    base_models: dict[str, Path], tmp_path: Path
) -> None:
    # SentencePiece collapses runs of spaces as e5's Replace(" {2,}", " ") does; without that
    # step the ids would differ ("a  b"), so no SentencePiece model is written.
    config = json.loads(
        (base_models["multilingual-e5-small"] / "tokenizer.json").read_text(encoding="utf-8")
    )
    config["normalizer"]["normalizers"] = config["normalizer"]["normalizers"][:1]
    (tmp_path / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    assert not build_sentencepiece(tmp_path / "tokenizer.json", tmp_path / ONNX_SPM)
    assert not (tmp_path / ONNX_SPM).exists()
