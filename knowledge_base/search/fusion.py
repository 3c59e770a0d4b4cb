"""Fusion: one ranking from the dense and lexical channels, each scaled per question."""

from __future__ import annotations

import numpy as np

# The default weight of the lexical channel in the fused ranking (README, "A lexical channel").
LEXICAL_WEIGHT = 0.2


def min_max(scores: np.ndarray) -> np.ndarray:
    """Each row scaled to [0, 1]: the best article 1, the worst 0 (all 0 when all are equal)."""
    low = scores.min(axis=1, keepdims=True)
    span = scores.max(axis=1, keepdims=True) - low
    return np.divide(scores - low, span, out=np.zeros_like(scores), where=span > 0)


def fuse(dense: np.ndarray, lexical: np.ndarray, weight: float) -> np.ndarray:
    """The ranking of the two channels: each scaled per question to [0, 1], then weighted.
    Scaled, because a fine-tuned model spreads its cosines far wider than the base model
    does; the weight then means the same for every model."""
    return (1 - weight) * min_max(dense) + weight * min_max(lexical)
