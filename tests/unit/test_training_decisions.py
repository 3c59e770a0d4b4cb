"""When a new model is promoted, and that only one training runs at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.training.finetune import Hyperparameters
from knowledge_base.training.pipeline import (
    Metrics,
    TrainingOptions,
    TrainingRefused,
    _decide,
    _exclusive,
)


def _options(margin: float = 0.0) -> TrainingOptions:
    return TrainingOptions(hyper=Hyperparameters(), promotion_margin=margin)


def test_a_model_that_ties_is_promoted_and_one_worse_on_either_metric_is_not() -> None:
    old = Metrics(30, 0.6, 0.8, 0.7)
    assert _decide(old, Metrics(30, 0.6, 0.8, 0.7), _options())[0] is True
    assert _decide(old, Metrics(30, 0.7, 0.9, 0.8), _options())[0] is True
    promoted, reason = _decide(old, Metrics(30, 0.633, 0.9, 0.69), _options())
    assert promoted is False
    assert reason == "worse on the held-out questions: MRR@10 0.700 → 0.690 (margin 0)"
    promoted, reason = _decide(old, Metrics(30, 0.5, 0.9, 0.8), _options())
    assert promoted is False and "top-1 0.600 → 0.500" in reason


def test_the_margin_forgives_a_small_loss_only() -> None:
    old = Metrics(30, 0.6, 0.8, 0.7)
    assert _decide(old, Metrics(30, 0.58, 0.8, 0.69), _options(margin=0.03))[0] is True
    assert _decide(old, Metrics(30, 0.55, 0.8, 0.69), _options(margin=0.03))[0] is False


def test_a_second_training_is_refused_while_one_runs(tmp_path: Path) -> None:
    with (
        _exclusive(tmp_path),
        pytest.raises(TrainingRefused, match="another training is running"),
        _exclusive(tmp_path),
    ):
        pass
    with _exclusive(tmp_path):  # free again once the first ended
        pass
