"""Whether a training can start at all, checked on the data alone (no model is loaded): the
same checks `faqbot train` makes before it loads anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.evaluation import MIN_QUESTIONS_FOR_THRESHOLDS
from knowledge_base.io import EvalItem
from knowledge_base.training.dataset import Split, build_training_set, split_held_out

# Below this many held-out questions old and new are compared on a handful of answers: the
# result is shown with a warning, and /retrain leaves the choice to the admin. One constant
# with the thresholds' own minimum, so "too few" means the same everywhere.
MIN_HELD_OUT_TO_JUDGE = MIN_QUESTIONS_FOR_THRESHOLDS


class TrainingRefused(RuntimeError):
    """Training cannot start (too little data, another training running); says why."""


class Blocker(StrEnum):
    """Why a training cannot start, as a word the bot translates."""

    TOO_LITTLE_DATA = "too_little_data"
    NO_HELD_OUT = "no_held_out"


@dataclass(frozen=True)
class Readiness:
    """What a training would start from, and what stops it (None: it can start)."""

    train: int
    held_out: int
    min_pairs: int
    blocker: Blocker | None

    @property
    def too_few_to_judge(self) -> bool:
        return self.held_out < MIN_HELD_OUT_TO_JUDGE


def blocker_of(split: Split, min_pairs: int) -> Blocker | None:
    if len(split.train) < min_pairs:
        return Blocker.TOO_LITTLE_DATA
    if not split.held_out:
        return Blocker.NO_HELD_OUT
    return None


def check_enough(split: Split, min_pairs: int) -> None:
    """TrainingRefused, in `faqbot train`'s words, when the split cannot make a training."""
    blocker = blocker_of(split, min_pairs)
    if blocker is Blocker.TOO_LITTLE_DATA:
        raise TrainingRefused(
            f"too little data to train: {len(split.train)} training pairs, at least "
            f"{min_pairs} needed (TRAINING__MIN_PAIRS). Pairs come from 👍 and picked "
            "suggestions, the articles' phrasings, and --pairs FILE."
        )
    if blocker is Blocker.NO_HELD_OUT:
        raise TrainingRefused(
            "no held-out questions to prove the new model better: no article has two or more "
            "questions from people (clicks or --pairs); add --pairs FILE or --test FILE."
        )


async def training_readiness(
    session: AsyncSession,
    *,
    held_out_share: float,
    seed: int,
    min_pairs: int,
    extra: Sequence[EvalItem] = (),
) -> Readiness:
    """The split `faqbot train` would make with these settings, and whether it can train."""
    training_set = await build_training_set(session, extra)
    split = split_held_out(training_set.pairs, held_out_share, seed)
    return Readiness(len(split.train), len(split.held_out), min_pairs, blocker_of(split, min_pairs))
