"""The encoder applies the model's prompts: `query: ` for questions, `passage: ` for phrasings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.encoders.base import ModelNotFoundError
from knowledge_base.encoders.torch_encoder import Encoder

TEXT = "Как получить доступ к логам?"


def test_questions_and_phrasings_get_the_e5_prompts(e5_encoder: Encoder) -> None:
    model = e5_encoder._model
    plain = model.encode([f"query: {TEXT}", f"passage: {TEXT}"], normalize_embeddings=True)
    query = e5_encoder.encode_queries([TEXT])[0]
    document = e5_encoder.encode_documents([TEXT])[0]
    assert np.allclose(query, plain[0], atol=1e-5)
    assert np.allclose(document, plain[1], atol=1e-5)
    assert not np.allclose(query, document, atol=1e-3)


def test_minilm_has_no_prompts(minilm_encoder: Encoder) -> None:
    query = minilm_encoder.encode_queries([TEXT])[0]
    document = minilm_encoder.encode_documents([TEXT])[0]
    assert np.allclose(query, document, atol=1e-6)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


def test_a_hub_id_is_refused_unless_the_hub_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="MODEL__ALLOW_HUB"):
        Encoder("intfloat/multilingual-e5-small")
    with pytest.raises(ModelNotFoundError, match="bootstrap"):
        Encoder(tmp_path / "missing")
