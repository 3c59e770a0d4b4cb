"""The README's recommendations of the two base models, served with the default settings (no
SEARCH__ANSWER_THRESHOLD, SEARCH__SUGGEST_THRESHOLD or SEARCH__LEXICAL_WEIGHT): multilingual-e5-
small answers from 0.90 and suggests from 0.87, all-MiniLM-L6-v2 from 0.85 and 0.70, both with
the lexical channel at 0.2 (read from the directories `faqbot models bootstrap` built, as the
encoders read them when they load); and ONNX Runtime serves them (MODEL__BACKEND=onnx)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.model_choice import load_model, resolve_lexical_weight, resolve_thresholds
from knowledge_base.encoders.base import recommended_thresholds
from knowledge_base.encoders.base_models import MINILM, MULTILINGUAL_E5
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.types import Band
from tests.fakes.encoders import TableEncoder
from tests.fakes.settings import make_settings


@pytest.mark.parametrize(
    ("name", "answer", "suggest"), [(MULTILINGUAL_E5, 0.90, 0.87), (MINILM, 0.85, 0.70)]
)
def test_a_base_model_is_served_with_the_bands_and_weight_it_recommends(
    base_models: dict[str, Path], tmp_path: Path, name: str, answer: float, suggest: float
) -> None:
    directory = base_models[name]
    # What an encoder of this directory carries (the model itself is not needed for it).
    encoder = TableEncoder(name, {})
    encoder.path = directory
    encoder.recommended = recommended_thresholds(directory)
    settings = make_settings(tmp_path, directory)
    bands = resolve_thresholds(settings, encoder)  # type: ignore[arg-type]
    assert [bands.band(s) for s in (answer, answer - 1e-4, suggest, suggest - 1e-4)] == [
        Band.ANSWER,
        Band.SUGGEST,
        Band.SUGGEST,
        Band.NOTHING,
    ]
    assert resolve_lexical_weight(settings, encoder) == 0.2  # type: ignore[arg-type]


async def test_a_base_model_is_served_by_onnx_runtime_with_the_default_settings(
    base_models: dict[str, Path], tmp_path: Path, shared_models: None
) -> None:
    # The default model, asked for with ONNX Runtime (the default backend): the run's loaded
    # copy serves it (shared_models), and is loaded by ONNX Runtime.
    directory = base_models[MULTILINGUAL_E5]
    encoder = await load_model(make_settings(tmp_path, directory), directory)
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.backend == "onnx" and encoder.path == directory
