"""`faqbot train` end to end on a small real base with the real model: versions, promotion,
refusal, a killed training, and the pairs it learns from."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import cli
from bot.config import Settings
from knowledge_base.encoders.base import model_version
from knowledge_base.encoders.base_models import MULTILINGUAL_E5, RECOMMENDED_THRESHOLDS
from knowledge_base.encoders.onnx_files import onnx_ready
from knowledge_base.evaluation import MIN_QUESTIONS_FOR_THRESHOLDS
from knowledge_base.storage.engine import create_engine, create_session_factory, open_session
from knowledge_base.storage.tables import EmbeddingRow, ModelVersionRow, PhrasingRow, QueryRow
from tests.fakes.model_versions import record_training
from tests.fakes.operator_shell import operator_environment
from tests.fakes.paths import SAMPLE_BASE, SAMPLE_EVAL

ARTICLES = 12


@pytest.fixture
def small_base(tmp_path: Path) -> tuple[Path, Path]:
    """The first twelve sample articles and the sample questions about them."""
    lines = SAMPLE_BASE.read_text(encoding="utf-8").splitlines()[:ARTICLES]
    titles = {json.loads(line)["title"] for line in lines}
    questions = [
        line
        for line in SAMPLE_EVAL.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["title"] in titles
    ]
    articles, pairs = tmp_path / "articles.jsonl", tmp_path / "pairs.jsonl"
    articles.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pairs.write_text("\n".join(questions) + "\n", encoding="utf-8")
    return articles, pairs


@pytest.fixture
def faqbot_on_small_base(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    base_models: dict[str, Path],
    small_base: tuple[Path, Path],
    shared_models: None,
) -> object:
    """`faqbot ...` in-process on the small base, imported: its own database and models folder,
    the real e5 as base (served by the run's loaded copy; a training loads its own)."""
    monkeypatch.chdir(tmp_path)
    for key, value in operator_environment(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODEL__MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MODEL__PATH", str(base_models["multilingual-e5-small"]))
    # Tiny trainings: a handful of steps each; and the test process keeps its CPU priority.
    monkeypatch.setenv("TRAINING__EPOCHS", "0.5")
    monkeypatch.setenv("TRAINING__NICENESS", "0")

    def run(*args: str) -> int:
        return cli.main(list(args))

    assert run("import", str(small_base[0])) == 0
    return run


def _json_out(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


async def _count(url: str, statement: object) -> int:
    async with open_session(url) as session:
        return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


def test_train_writes_a_loadable_version_that_answers_and_can_be_rolled_back(
    faqbot_on_small_base,
    small_base: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    base_models: dict[str, Path],
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRAINING__PROMOTION_MARGIN", "1")  # plumbing: promote whatever comes out
    # A candidate an earlier training left rejected: pruned after this promotion, which keeps
    # TRAINING__KEEP_VERSIONS (3) of the versions that served.
    old = asyncio.run(_rejected_candidate(tmp_path / "models", "ft-00000000-000001"))
    capsys.readouterr()
    assert faqbot_on_small_base("train", "--pairs", str(small_base[1]), "--json") == 0
    result = _json_out(capsys)
    assert isinstance(result, dict)
    assert result["promoted"] is True
    assert result["parent"] == "multilingual-e5-small"
    assert result["data"]["held_out"] >= 5 and result["data"]["train"] >= 20
    assert result["steps"] >= 3

    version = Path(result["path"])
    assert version.parent == tmp_path / "models" and version.name == result["version"]
    for name in ("model.safetensors", "README.md", "metrics.json", "faqbot.json", "modules.json"):
        assert (version / name).is_file(), name
    assert not list((tmp_path / "models").glob(".incomplete-*"))
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["hyperparameters"]["batch_size"] == 8
    assert metrics["hyperparameters"]["learning_rate"] == 5e-5
    assert metrics["before"]["n"] == metrics["after"]["n"] == result["data"]["held_out"]
    thresholds = json.loads((version / "faqbot.json").read_text())["thresholds"]
    assert thresholds == result["thresholds"]
    # This small base holds out fewer questions than thresholds need: the parent's are kept.
    assert result["data"]["held_out"] < MIN_QUESTIONS_FOR_THRESHOLDS
    assert metrics["thresholds_source"] == "parent"
    assert thresholds == RECOMMENDED_THRESHOLDS[MULTILINGUAL_E5]
    # The quirk of sentence-transformers 6 is mended: the copy reloads without a pooler.
    bert_config = json.loads((version / "sentence_bert_config.json").read_text())
    assert bert_config["model_args"]["add_pooling_layer"] is False

    # The vectors of the whole base are cached for the new version, so a bot swaps at once.
    url = Settings().database_url
    phrasings = asyncio.run(_count(url, select(func.count(PhrasingRow.id))))
    cached = asyncio.run(
        _count(
            url,
            select(func.count(EmbeddingRow.id)).where(
                EmbeddingRow.model_version == model_version(version)
            ),
        )
    )
    assert cached == phrasings

    # Every command now answers with the new version …
    assert faqbot_on_small_base("ask", "Как получить доступ к логам?") == 0
    assert faqbot_on_small_base("models", "list", "--json") == 0
    listing = _json_out(capsys)
    assert isinstance(listing, list)
    assert [(row["version"], row["status"]) for row in listing] == [
        (old.name, "pruned"),
        ("multilingual-e5-small", "previous"),
        (version.name, "active"),
    ]
    assert not old.exists(), "the rejected candidate's files are gone"
    assert base_models["multilingual-e5-small"].is_dir(), "a base model is never pruned"
    # … until a rollback returns to the base model.
    assert faqbot_on_small_base("models", "rollback") == 0
    assert "Rolled back" in capsys.readouterr().out
    assert faqbot_on_small_base("ask", "Как получить доступ к логам?") == 0
    assert faqbot_on_small_base("models", "rollback") == 1  # nothing before the base model
    # And forward again by name.
    assert faqbot_on_small_base("models", "activate", version.name) == 0
    assert f"{version.name} is active" in capsys.readouterr().out
    assert faqbot_on_small_base("models", "activate", "ft-00000000-000000") == 1
    assert "no model version" in capsys.readouterr().err
    versions = asyncio.run(_versions_of_queries(url))
    base_version = model_version(base_models["multilingual-e5-small"])
    assert versions == [model_version(version), base_version]


async def _rejected_candidate(models: Path, name: str) -> Path:
    engine = create_engine(Settings().database_url)
    try:
        await record_training(create_session_factory(engine), models, name, promote=False)
    finally:
        await engine.dispose()
    return models / name


async def _versions_of_queries(url: str) -> list[str]:
    async with open_session(url) as session:
        return list(await session.scalars(select(QueryRow.model_version).order_by(QueryRow.id)))


def test_a_worse_candidate_is_kept_as_rejected_and_the_old_model_keeps_serving(
    faqbot_on_small_base,
    small_base: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    # A fixed test set this time, instead of a held-out share.
    lines = small_base[1].read_text(encoding="utf-8").splitlines()
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("\n".join(lines[::2]) + "\n", encoding="utf-8")
    test.write_text("\n".join(lines[1::2]) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert (
        faqbot_on_small_base("train", "--pairs", str(train), "--test", str(test), "--lr", "0") == 1
    )
    assert "Invalid training options" in capsys.readouterr().err
    # A learning rate a thousand times too high wrecks the model.
    assert (
        faqbot_on_small_base("train", "--pairs", str(train), "--test", str(test), "--lr", "0.05")
        == 0
    )
    out = capsys.readouterr().out
    assert f"{len(lines[1::2])} held-out questions" in out
    assert "Not promoted: worse on the held-out questions" in out
    assert "multilingual-e5-small still answers" in out
    assert faqbot_on_small_base("models", "list", "--json") == 0
    listing = _json_out(capsys)
    assert isinstance(listing, list)
    statuses = {row["version"]: row["status"] for row in listing}
    rejected = [name for name, status in statuses.items() if status == "rejected"]
    assert len(rejected) == 1
    active = [name for name, status in statuses.items() if status == "active"]
    assert active == ["multilingual-e5-small"]
    after = next(row for row in listing if row["status"] == "rejected")["after"]
    before = next(row for row in listing if row["status"] == "rejected")["before"]
    assert after["top1"] < before["top1"]
    # A version that serves nobody is not exported for ONNX Runtime (its first load would).
    kept = tmp_path / "models" / rejected[0]
    assert (kept / "model.safetensors").is_file() and not onnx_ready(kept)


def test_training_with_too_little_data_is_refused_and_changes_nothing(
    faqbot_on_small_base,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRAINING__MIN_PAIRS", "1000")
    capsys.readouterr()
    assert faqbot_on_small_base("train") == 4
    err = capsys.readouterr().err
    assert "too little data to train" in err and "at least 1000" in err
    models = tmp_path / "models"
    assert not [p for p in models.iterdir() if p.name != ".training.lock"]
    url = Settings().database_url
    assert asyncio.run(_count(url, select(func.count(ModelVersionRow.id)))) == 0


def test_export_pairs_writes_what_training_would_learn(
    faqbot_on_small_base,
    small_base: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "pairs-out.jsonl"
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        small_base[1].read_text(encoding="utf-8")
        + json.dumps({"query": "вопрос", "title": "нет такой статьи"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert faqbot_on_small_base("export-pairs", str(out), "--pairs", str(extra)) == 0
    assert "1 --pairs lines name no active article" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {tuple(sorted(row)) for row in rows} == {("negatives", "query", "source", "title")}
    sources = {row["source"] for row in rows}
    assert sources == {"pairs", "phrasing"}
    asked = [json.loads(line)["query"] for line in small_base[1].read_text().splitlines()]
    assert sum(row["source"] == "pairs" for row in rows) == len(set(asked))


def test_a_killed_training_leaves_the_active_model_and_the_base_as_they_were(
    faqbot_on_small_base,
    tmp_path: Path,
    small_base: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    # A real `faqbot train` process on the same database, far longer than the test waits.
    env = {**os.environ, "TRAINING__EPOCHS": "50"}
    training = subprocess.Popen(
        [sys.executable, "-m", "bot", "train", "--pairs", str(small_base[1])],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    models = tmp_path / "models"
    deadline = time.monotonic() + 120
    # The trainer's progress bar shows on stderr once the first steps ran.
    seen = ""
    assert training.stderr is not None
    while "s/it" not in seen and "it/s" not in seen and time.monotonic() < deadline:
        chunk = training.stderr.read(64)
        if not chunk:
            break
        seen = (seen + chunk)[-200:]
    assert list(models.glob(".incomplete-*")), f"training never started: {seen!r}"
    training.send_signal(signal.SIGKILL)
    training.wait(timeout=30)

    assert not [p for p in models.iterdir() if p.name.startswith("ft-")]
    capsys.readouterr()
    assert faqbot_on_small_base("models", "list", "--json") == 0
    assert _json_out(capsys) == [
        {
            "version": "multilingual-e5-small",
            "parent": None,
            "created": "",
            "pairs": None,
            "held_out": None,
            "before": None,
            "after": None,
            "thresholds": None,
            "status": "active",
        }
    ]
    monkeypatch.setenv("SEARCH__ANSWER_THRESHOLD", "0")
    monkeypatch.setenv("SEARCH__SUGGEST_THRESHOLD", "0")
    assert faqbot_on_small_base("ask", "--json", "Как получить доступ к логам?") == 0
    answer = _json_out(capsys)
    assert isinstance(answer, dict) and answer["title"] == "Инструкция по получению логов"
    # The next training, even one refused for lack of data, clears what the dead one left.
    monkeypatch.setenv("TRAINING__MIN_PAIRS", "100000")
    assert faqbot_on_small_base("train") == 4
    assert not list(models.glob(".incomplete-*"))
