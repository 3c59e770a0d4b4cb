"""When a new model is promoted, and that only one training runs at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.evaluation import EvalReport
from knowledge_base.training.finetune import Hyperparameters
from knowledge_base.training.pipeline import (
    Metrics,
    TrainingOptions,
    TrainingRefused,
    _decide,
    _decide_promotion,
    _exclusive,
    _NewModel,
    _OldModel,
)
from knowledge_base.training.registry import ActiveModel


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


def test_a_model_worse_on_both_metrics_is_told_both() -> None:
    promoted, reason = _decide(
        Metrics(30, 0.6, 0.8, 0.7), Metrics(30, 0.5, 0.8, 0.65), _options(margin=0.01)
    )
    assert promoted is False
    assert reason == (
        "worse on the held-out questions: top-1 0.600 → 0.500, MRR@10 0.700 → 0.650 (margin 0.01)"
    )


def _held_out(top1: float, mrr10: float) -> EvalReport:
    """A report of ten held-out questions, enough to choose thresholds from."""
    right = [0.5 + 0.01 * n for n in range(10)]
    return EvalReport(10, top1, 1.0, mrr10, 0, right, [])


@pytest.mark.parametrize(
    ("after", "promoted", "reason"),
    [
        (_held_out(0.7, 0.8), True, "not worse on the held-out questions: top-1 0.600 → 0.700"),
        (_held_out(0.5, 0.8), False, "worse on the held-out questions: top-1 0.600 → 0.500"),
    ],
)
def test_the_promotion_decision_carries_the_verdict_and_its_reason(
    tmp_path: Path, after: EvalReport, promoted: bool, reason: str
) -> None:
    before = _OldModel(_held_out(0.6, 0.7), 0.0, 0.0)
    new = _NewModel(np.zeros((0, 2)), {0.0: after}, 0.0, 0.0)
    decision = _decide_promotion(before, new, _options(), ActiveModel(tmp_path, "e5", False))
    assert decision.promoted is promoted
    assert decision.reason.startswith(reason)
    assert decision.thresholds_chosen


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
