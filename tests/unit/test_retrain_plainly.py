"""/retrain and /model in plain words: whether a training can start (on the data alone), a model
judged on too few questions left to a person, no step 0 or unknown time left in the status, model
names without digests, and no setting names shown to admins."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.training import format_outcome, outcome_json
from bot.runtime.training import Progress, TrainingEvent, _follow_progress, real_step
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleService
from knowledge_base.audit import Actor, NotAllowed
from knowledge_base.evaluation import MIN_QUESTIONS_FOR_THRESHOLDS, EvalReport
from knowledge_base.io import EvalItem
from knowledge_base.training.activation import ModelAdmin
from knowledge_base.training.finetune import Hyperparameters
from knowledge_base.training.pipeline import (
    Metrics,
    TrainingOptions,
    TrainingOutcome,
    _decide_promotion,
    _NewModel,
    _OldModel,
)
from knowledge_base.training.readiness import MIN_HELD_OUT_TO_JUDGE, Blocker, training_readiness
from knowledge_base.training.registry import ActiveModel
from knowledge_base.types import ArticleDraft, AuditAction, AuditEntry, ModelStatus, ModelVersion

DRAFTS = [
    ArticleDraft("Сброс пароля", "Откройте портал.", ("как сбросить пароль", "забыл пароль")),
    ArticleDraft("Логи", "Логи в Kibana.", ("где логи", "как посмотреть логи")),
]


def _report(n: int, top1: float) -> EvalReport:
    return EvalReport(n, top1, 1.0, top1, 0, [0.5 + 0.01 * k for k in range(n)], [])


@pytest.mark.parametrize(
    ("held_out", "after_top1", "promoted", "held"),
    [
        (3, 0.7, False, True),  # not worse, but three questions prove nothing: a person decides
        (3, 0.5, False, False),  # worse: rejected, whatever the count
        (MIN_HELD_OUT_TO_JUDGE, 0.7, True, False),  # enough questions: promoted as before
    ],
)
def test_a_model_judged_on_too_few_questions_is_held_for_a_person(
    tmp_path: Path, held_out: int, after_top1: float, promoted: bool, held: bool
) -> None:
    options = TrainingOptions(hyper=Hyperparameters(), hold_below=MIN_HELD_OUT_TO_JUDGE)
    before = _OldModel(_report(held_out, 0.6), 0.0, 0.0)
    after = _NewModel(np.zeros((0, 2)), {0.0: _report(held_out, after_top1)}, 0.0, 0.0)
    decision = _decide_promotion(before, after, options, ActiveModel(tmp_path, "e5", False))
    assert (decision.promoted, decision.held) == (promoted, held)
    if held:
        assert "too few to judge" in decision.reason
    # Without the flag (`faqbot train` at the command line) the old rule stands.
    plain = TrainingOptions(hyper=Hyperparameters())
    assert _decide_promotion(before, after, plain, ActiveModel(tmp_path, "e5", False)).promoted is (
        after_top1 >= 0.6
    )


def test_too_few_to_judge_is_the_thresholds_minimum() -> None:
    assert MIN_HELD_OUT_TO_JUDGE == MIN_QUESTIONS_FOR_THRESHOLDS == 10


async def test_readiness_says_why_a_training_cannot_start_without_loading_a_model(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(DRAFTS)
        await session.commit()
    people = [
        EvalItem("пароль не подходит", "Сброс пароля"),
        EvalItem("не помню пароль от почты", "Сброс пароля"),
        EvalItem("логи прода", "Логи"),
        EvalItem("где смотреть логи сервиса", "Логи"),
    ]
    async with session_factory() as session:
        phrasings_only = await training_readiness(session, held_out_share=0.5, seed=42, min_pairs=1)
        asked = await training_readiness(
            session, held_out_share=0.5, seed=42, min_pairs=1, extra=people
        )
        too_many = await training_readiness(
            session, held_out_share=0.5, seed=42, min_pairs=100, extra=people
        )
    assert phrasings_only.blocker is Blocker.NO_HELD_OUT and phrasings_only.held_out == 0
    assert asked.blocker is None and asked.held_out >= 1 and asked.too_few_to_judge
    assert too_many.blocker is Blocker.TOO_LITTLE_DATA and too_many.min_pairs == 100
    assert admin_texts.retrain_cannot_start(too_many.blocker, too_many.train, 100) == (
        "Обучение не запущено: мало данных — для обучения нужно хотя бы 100 пар «вопрос — "
        f"статья», а есть {too_many.train}. Пары дают 👍 и выбранные подсказки, а также фразы "
        "статей."
    )
    # Only an admin may ask (the use case checks, whatever filter let the update in).
    async with session_factory() as session:
        stranger = ModelAdmin(session, Path("models"), Actor(7, frozenset({1})))
        with pytest.raises(NotAllowed):
            await stranger.readiness(held_out_share=0.5, seed=42, min_pairs=1)


async def test_the_status_shows_no_step_before_the_first_one_is_done() -> None:
    stderr = asyncio.StreamReader()
    stderr.feed_data(b"Batches:   0%|          | 0/2 [00:00<?, ?it/s]\r")
    stderr.feed_eof()
    reported: list[TrainingEvent] = []

    async def report(event: TrainingEvent) -> None:
        reported.append(event)

    await _follow_progress(stderr, report)
    assert reported == []
    stderr = asyncio.StreamReader()
    stderr.feed_data(" 50%|█████     | 1/2 [00:03<00:03, 0.3it/s]\r".encode())
    stderr.feed_eof()
    await _follow_progress(stderr, report)
    assert reported == [Progress(1, 2, "00:03")]
    assert not real_step("0", "00:01") and not real_step("1", "?")


def test_model_names_are_shown_without_digests_or_the_base_folder() -> None:
    assert admin_texts.model_name("multilingual-e5-small-0123456789") == "multilingual-e5-small"
    assert admin_texts.model_name("base/multilingual-e5-small") == "multilingual-e5-small"
    assert admin_texts.model_name("ft-20261207-153000") == "ft-20261207-153000"
    stats = admin_texts.stats_text(
        7,
        total=0,
        shares={},
        helpful=0,
        not_helpful=0,
        rate=None,
        top=[],
        inbox=[],
        model="ft-20261207-153000-0123456789",
    )
    assert stats.endswith("Модель: ft-20261207-153000.")


@pytest.mark.parametrize(
    ("action", "words"),
    [
        (AuditAction.TRAIN_PROMOTED, "модель — обучена новая модель, она отвечает"),
        (AuditAction.TRAIN_REJECTED, "модель — обучена новая модель, она хуже прежней"),
        (AuditAction.TRAIN_HELD, "модель — обучена новая модель, ждёт решения"),
        (AuditAction.ACTIVATE, "модель — включена другая модель"),
        (AuditAction.ROLLBACK, "модель — откат модели"),
    ],
)
def test_training_and_activation_read_as_russian_in_the_audit(
    action: AuditAction, words: str
) -> None:
    entry = AuditEntry(
        id=1,
        actor_id=42,
        at=datetime(2026, 12, 8, 10, 0, tzinfo=UTC),
        action=action,
        article_id=None,
        before="base/e5",
        after="ft-20261207-153000",
    )
    line, cut = admin_texts.audit_line(entry, "08.12 10:00")
    assert line.startswith(f"08.12 10:00 · админ 42 · {words}")
    assert line.endswith("«e5» → «ft-20261207-153000»") and not cut


def test_admins_are_shown_no_setting_names() -> None:
    shown = [
        value
        for name, value in vars(admin_texts).items()
        if name.isupper() and isinstance(value, str)
    ]
    assert shown
    assert not [text for text in shown if re.search(r"\b[A-Z]+__[A-Z_]+", text)]


def test_faqbot_train_warns_when_too_few_questions_judge_the_model(tmp_path: Path) -> None:
    metrics = {
        "data": {
            "pairs": 30,
            "user_questions": 8,
            "phrasings": 22,
            "with_negatives": 0,
            "unknown_titles": 0,
            "train": 28,
            "held_out": 2,
        },
        "steps": 2,
        "train_seconds": 1.0,
        "wall_seconds": 5.0,
    }
    outcome = TrainingOutcome(
        ModelVersion(
            "ft-20261207-153000",
            tmp_path,
            "e5",
            ModelStatus.ACTIVE,
            datetime.now(UTC),
            None,
            "{}",
        ),
        "e5",
        True,
        "not worse on the held-out questions",
        Metrics(2, 1.0, 1.0, 1.0),
        Metrics(2, 1.0, 1.0, 1.0),
        {},
        metrics,
        too_few_to_judge=True,
    )
    assert "Warning: too few held-out questions to judge (2, fewer than 10)" in format_outcome(
        outcome
    )
    assert outcome_json(outcome)["too_few_to_judge"] is True
