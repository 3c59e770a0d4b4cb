"""`faqbot eval` numbers on the sample evaluation set, with both shipped base models."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import cli
from knowledge_base.articles import ArticleService
from knowledge_base.encoders.torch_encoder import Encoder
from knowledge_base.evaluation import EvalReport, evaluate
from knowledge_base.io import read_articles, read_eval_set
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from tests.fakes.paths import SAMPLE_BASE, SAMPLE_EVAL


async def _report(
    encoder: Encoder, session_factory: async_sessionmaker[AsyncSession], lexical_weight: float = 0.0
) -> EvalReport:
    engine = SearchEngine(encoder, Thresholds(0.9, 0.8), lexical_weight=lexical_weight)
    await engine.rebuild(session_factory)
    return await evaluate(engine, read_eval_set(SAMPLE_EVAL), negatives=["рецепт борща"])


README_E5 = (0.567, 0.777, 0.691)
README_MINILM = (0.223, 0.363, 0.318)
# "A lexical channel": fused with weight 0.2, the base models' recommendation.
README_E5_FUSED = (0.605, 0.796, 0.718)
README_MINILM_FUSED = (0.331, 0.503, 0.447)


async def test_sample_eval_figures_are_the_readme_s_and_e5_beats_minilm(
    e5_encoder: Encoder,
    minilm_encoder: Encoder,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(read_articles(SAMPLE_BASE))
    e5 = await _report(e5_encoder, session_factory)
    minilm = await _report(minilm_encoder, session_factory)
    e5_fused = await _report(e5_encoder, session_factory, 0.2)
    minilm_fused = await _report(minilm_encoder, session_factory, 0.2)
    assert e5.n == minilm.n == len(read_eval_set(SAMPLE_EVAL)) == 157
    # The README's tables ("How well they answer", "A lexical channel"), within one question.
    for report, (top1, top3, mrr10) in (
        (e5, README_E5),
        (minilm, README_MINILM),
        (e5_fused, README_E5_FUSED),
        (minilm_fused, README_MINILM_FUSED),
    ):
        measured = (report.top1, report.top3, report.mrr10)
        readme = (top1, top3, mrr10)
        close = all(abs(m - r) <= 1 / 157 for m, r in zip(measured, readme, strict=True))
        assert close, f"measured {measured}, README says {readme}"
        assert len(report.right_scores) == round(report.top1 * report.n)
        assert len(report.negative_scores) == 1
    assert e5.top1 - minilm.top1 > 0.25


def test_eval_cli_prints_the_metrics_as_json(
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    base_models,
    shared_models: None,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'kb.sqlite3'}")
    small = tmp_path / "eval.jsonl"
    small.write_text(
        "".join(
            json.dumps(json.loads(line), ensure_ascii=False) + "\n"
            for line in SAMPLE_EVAL.read_text(encoding="utf-8").splitlines()[:7]
        ),
        encoding="utf-8",
    )
    model = str(base_models["multilingual-e5-small"])
    assert (
        cli.main(["eval", "--articles", str(SAMPLE_BASE), "--model", model, "--json", str(small)])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    # The first seven lines are the seed questions, which the multilingual model gets right.
    assert {k: result[k] for k in ("n", "top1", "top3", "mrr10")} == {
        "n": 7,
        "top1": 1.0,
        "top3": 1.0,
        "mrr10": 1.0,
    }


def test_eval_cli_text_report_shows_the_unanswerable_questions(
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    base_models,
    shared_models: None,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'kb.sqlite3'}")
    small = tmp_path / "eval.jsonl"
    small.write_text(
        "\n".join(SAMPLE_EVAL.read_text(encoding="utf-8").splitlines()[:7]) + "\n",
        encoding="utf-8",
    )
    negatives = tmp_path / "negatives.jsonl"
    negatives.write_text(
        "".join(
            json.dumps({"query": q}, ensure_ascii=False) + "\n"
            for q in ("рецепт борща", "кто выиграл матч вчера", "погода в Казани")
        ),
        encoding="utf-8",
    )
    model = str(base_models["multilingual-e5-small"])
    args = ["eval", "--articles", str(SAMPLE_BASE), "--model", model]
    assert cli.main([*args, "--negatives", str(negatives), str(small)]) == 0
    report = capsys.readouterr().out
    assert "n       7" in report
    assert "top-1   1.000" in report
    [negative_row] = [line for line in report.splitlines() if "unanswerable questions" in line]
    assert negative_row.split()[3] == "3", negative_row  # count column: the three negatives
    # The threshold table says what share of them each threshold lets through: a third at a
    # time (three negatives), never more as the threshold rises.
    table = report[report.index("unanswerable passing") :].splitlines()[1:]
    rows = [line.split() for line in table if line.startswith("  0.") or line.startswith("  1.")]
    assert rows and all(len(row) == 5 for row in rows), rows
    shares = [row[-1] for row in rows]
    assert set(shares) <= {"0.0%", "33.3%", "66.7%", "100.0%"}, shares
    values = [float(share.rstrip("%")) for share in shares]
    assert values == sorted(values, reverse=True), shares
