"""The running bot switches to a model that `faqbot train` promotes, without a restart, and
serves it with the thresholds the training chose."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import select

from bot.config import ModelSettings
from knowledge_base.encoders.base import model_version
from knowledge_base.encoders.base_models import MULTILINGUAL_E5, RECOMMENDED_THRESHOLDS
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.storage.tables import QueryRow
from knowledge_base.types import Band
from tests.fakes.harness import DEFAULT_BANDS, BotHarness, LaunchBot
from tests.fakes.operator_shell import operator_environment, start_faqbot
from tests.fakes.paths import SAMPLE_EVAL

QUESTIONS = ["Как получить доступ к логам?", "не работает впн", "как сменить пароль"]
# Seconds between two questions asked while the training runs.
ASKING_PACE = 0.2
# Sample questions asked once the new model serves, to see its thresholds at work.
AFTER_THE_SWAP = 60


async def _versions(bot: BotHarness) -> list[str]:
    async with bot.session_factory() as session:
        return list(await session.scalars(select(QueryRow.model_version).order_by(QueryRow.id)))


def _band(score: float, thresholds: dict[str, float]) -> Band:
    if score >= thresholds["answer"]:
        return Band.ANSWER
    return Band.SUGGEST if score >= thresholds["suggest"] else Band.NOTHING


async def _scored(bot: BotHarness, after_id: int) -> list[tuple[float, str]]:
    async with bot.session_factory() as session:
        rows = await session.execute(
            select(QueryRow.score, QueryRow.band).where(QueryRow.id > after_id)
        )
        return [(score, band) for score, band in rows]


async def _last_id(bot: BotHarness) -> int:
    async with bot.session_factory() as session:
        return int(await session.scalar(select(QueryRow.id).order_by(QueryRow.id.desc())) or 0)


async def test_the_bot_answers_with_a_newly_trained_model_without_a_restart(
    launch_bot: LaunchBot, e5_onnx_encoder: OnnxEncoder, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    # The bands the model recommends, as production runs: the base model's, then those the
    # training chose on its held-out questions.
    bot = await launch_bot(
        DEFAULT_BANDS,
        index_refresh_seconds=0.2,
        model=ModelSettings(path=str(e5_onnx_encoder.path), models_dir=models),
    )
    await bot.ask(QUESTIONS[0])
    assert await _versions(bot) == [e5_onnx_encoder.version]

    env = {
        **operator_environment(tmp_path),
        "DATABASE_URL": bot.settings.database_url,
        "MODEL__MODELS_DIR": str(models),
        "MODEL__PATH": str(e5_onnx_encoder.path),
        "TRAINING__EPOCHS": "0.1",
        "TRAINING__PROMOTION_MARGIN": "1",  # this test is about the swap, not the gain
    }
    training = await start_faqbot(env, tmp_path, "train", "--pairs", str(SAMPLE_EVAL), "--json")
    communicate = asyncio.ensure_future(training.communicate())
    # The bot keeps answering while another process trains beside it: a question, then the
    # next one once the training is over or 0.2 s have passed (a person's pace, which leaves
    # the training its cores), whichever comes first.
    asked_while_training = 0
    while not communicate.done():
        await bot.ask(QUESTIONS[asked_while_training % len(QUESTIONS)])
        asked_while_training += 1
        await asyncio.wait({communicate}, timeout=ASKING_PACE)
    stdout, stderr = await communicate
    assert training.returncode == 0, stderr.decode()[-2000:]
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["promoted"] is True
    new_version = model_version(Path(result["path"]))

    # … and through the swap: every question gets its one reply, from one model or the other.
    for attempt in range(150):
        await bot.ask(QUESTIONS[attempt % len(QUESTIONS)])
        if (await _versions(bot))[-1] == new_version:
            break
    else:
        raise AssertionError("the running bot never switched to the trained model")
    versions = await _versions(bot)
    assert len(versions) == 1 + asked_while_training + attempt + 1
    assert set(versions) == {e5_onnx_encoder.version, new_version}
    switched = versions.index(new_version)
    assert versions[switched:] == [new_version] * (len(versions) - switched), "no flip-flopping"
    assert asked_while_training >= 3, "the training was too short to prove the bot kept answering"

    # The training held out enough questions (at least 10) to choose thresholds for the new
    # model's scores, and the running bot answers by them, not by the base model's.
    trained = result["thresholds"]
    base = RECOMMENDED_THRESHOLDS[MULTILINGUAL_E5]
    assert result["data"]["held_out"] >= 10, result["data"]
    assert trained != base, "the training kept the base model's thresholds"
    after_id = await _last_id(bot)
    sample = [json.loads(line)["query"] for line in SAMPLE_EVAL.read_text().splitlines()]
    for question in sample[:AFTER_THE_SWAP]:
        await bot.ask(question)
    scored = await _scored(bot, after_id)
    assert len(scored) == AFTER_THE_SWAP
    assert [band for _, band in scored] == [_band(score, trained) for score, _ in scored]
    telling = [score for score, _ in scored if _band(score, trained) != _band(score, base)]
    assert telling, f"no question scored where {trained} and {base} disagree"

    # `faqbot models rollback` reaches the running bot the same way.
    rollback = await start_faqbot(env, tmp_path, "models", "rollback")
    out, err = await rollback.communicate()
    assert rollback.returncode == 0, err.decode()
    assert out.decode().startswith(f"Rolled back from {result['version']} to ")
    for attempt in range(150):
        await bot.ask(QUESTIONS[attempt % len(QUESTIONS)])
        if (await _versions(bot))[-1] == e5_onnx_encoder.version:
            break
    else:
        raise AssertionError("the running bot never returned to the base model")
