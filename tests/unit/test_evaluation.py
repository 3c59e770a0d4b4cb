"""What `faqbot eval` and the training measure, on vectors whose scores the test sets: ranks,
top-1, top-3 and MRR@10, the first-answer scores split right and wrong, the scores without the
gold article and of unanswerable questions, and the summaries and threshold table made of them.
(tests/integration/test_evaluation.py measures the sample base on the real models.)"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.evaluation import (
    EvalReport,
    ScoreSummary,
    ThresholdRow,
    evaluate,
    evaluate_vectors,
)
from knowledge_base.io import EvalItem
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.search.vector_index import VectorIndex
from knowledge_base.types import ArticleDraft
from tests.fakes.encoders import FakeEncoder

# Twelve articles, one phrasing each along its own axis: a query vector's component for an
# article is that article's score. Ids are not positions, so a mix-up of the two shows.
ARTICLES = list(range(101, 113))


def _index(articles: list[int]) -> VectorIndex:
    return VectorIndex(np.eye(len(articles), dtype=np.float32), articles)


def _query(scores: dict[int, float], articles: list[int] = ARTICLES) -> list[float]:
    """A query vector scoring each article as given, and 0 the others."""
    return [scores.get(article, 0.0) for article in articles]


def _ranked_below(gold: int, above: int, score: float) -> dict[int, float]:
    """Scores that put `above` other articles (0.5 each) ahead of the gold one."""
    others = [a for a in ARTICLES if a != gold][:above]
    return {gold: score, **dict.fromkeys(others, 0.5)}


# (gold article, scores): gold ranks 1, 3, 4, 10, 11, and 1 again tied with another article.
QUERIES = [
    (101, {101: 0.875, 102: 0.5}),
    (102, {102: 0.625, 103: 0.75, 104: 0.6875}),
    (103, {103: 0.25, 104: 0.9375, 105: 0.8125, 106: 0.75}),
    (104, _ranked_below(104, 9, 0.125)),
    (105, _ranked_below(105, 10, 0.0625)),
    (106, {106: 0.8125, 107: 0.8125, 108: 0.25}),
]


def _report(**more: object) -> EvalReport:
    vectors = np.asarray([_query(scores) for _, scores in QUERIES], dtype=np.float32)
    gold = [g for g, _ in QUERIES]
    return evaluate_vectors(_index(ARTICLES), vectors, gold, 2, **more)  # type: ignore[arg-type]


def test_ranks_count_the_articles_strictly_above_the_gold_one() -> None:
    report = _report()
    # A tie with the gold article is not held against it.
    assert report.ranks == [1, 3, 4, 10, 11, 1]
    assert report.gold == [101, 102, 103, 104, 105, 106]
    assert report.n == 6
    assert report.skipped == 2


def test_top1_top3_and_mrr10_are_shares_of_the_questions() -> None:
    report = _report()
    assert report.top1 == pytest.approx(2 / 6)
    assert report.top3 == pytest.approx(3 / 6), "rank 3 counts, rank 4 does not"
    # Rank 10 still earns its tenth; rank 11 earns nothing.
    assert report.mrr10 == pytest.approx((1 + 1 / 3 + 1 / 4 + 1 / 10 + 0 + 1) / 6)


def test_first_answer_scores_are_split_by_whether_the_first_article_was_the_gold_one() -> None:
    report = _report()
    assert report.right_scores == [0.875, 0.8125]
    assert report.wrong_scores == [0.75, 0.9375, 0.5, 0.5]


def test_without_gold_is_the_best_score_of_the_other_articles() -> None:
    assert _report().without_gold_scores == [0.5, 0.75, 0.9375, 0.5, 0.5, 0.8125]


def test_with_two_articles_the_score_without_gold_is_the_other_ones_and_with_one_none() -> None:
    two = evaluate_vectors(_index([1, 2]), np.asarray([[0.75, 0.25]]), [1], 0)
    assert two.without_gold_scores == [0.25]
    one = evaluate_vectors(_index([1]), np.asarray([[0.75]]), [1], 0)
    assert one.without_gold_scores == []
    assert (one.ranks, one.right_scores, one.top1) == ([1], [0.75], 1.0)


def test_no_questions_or_an_empty_base_give_zeros_not_errors() -> None:
    for index in (_index([1, 2]), VectorIndex.empty(2)):
        report = evaluate_vectors(index, np.zeros((0, 2)), [], 3, negative_vectors=np.ones((1, 2)))
        assert (report.n, report.top1, report.top3, report.mrr10) == (0, 0.0, 0.0, 0.0)
        assert report.skipped == 3
        assert report.right_scores == report.wrong_scores == report.without_gold_scores == []
        assert report.ranks == report.gold == []
    assert report.negative_scores == [], "an empty base scores no unanswerable question"


def test_one_gold_article_is_needed_for_each_query_vector() -> None:
    with pytest.raises(ValueError):
        evaluate_vectors(_index([1, 2]), np.asarray([[0.75, 0.25], [0.25, 0.75]]), [1], 0)


# Two articles, and a question the dense channel ranks article 1 first for (0.75 to 0.5) while
# the lexical channel has only article 2: with a weight of 0.75 the fused ranking puts 2 first.
DENSE = np.asarray([[0.75, 0.5]], dtype=np.float32)
LEXICAL = np.asarray([[0.0, 1.0]], dtype=np.float32)


def test_the_lexical_channel_counts_with_its_weight_and_the_bands_still_judge_the_cosine() -> None:
    fused = evaluate_vectors(_index([1, 2]), DENSE, [2], 0, lexical=LEXICAL, lexical_weight=0.75)
    assert fused.ranks == [1]
    assert fused.right_scores == [0.5], "the first article's own cosine"
    assert fused.without_gold_scores == [0.75]


def test_without_a_weight_the_lexical_scores_change_nothing() -> None:
    for report in (
        evaluate_vectors(_index([1, 2]), DENSE, [2], 0),
        evaluate_vectors(_index([1, 2]), DENSE, [2], 0, lexical=LEXICAL),
    ):
        assert report.ranks == [2]
        assert report.wrong_scores == [0.75]


def test_an_unanswerable_question_is_kept_as_the_cosine_of_its_first_ranked_article() -> None:
    dense_only = evaluate_vectors(
        _index([1, 2]), DENSE, [1], 0, negative_vectors=np.asarray([[0.25, 0.625], [0.5, 0.0]])
    )
    assert dense_only.negative_scores == [0.625, 0.5]
    fused = evaluate_vectors(
        _index([1, 2]),
        DENSE,
        [1],
        0,
        lexical=np.asarray([[1.0, 0.0]]),
        lexical_weight=0.75,
        negative_vectors=DENSE,
        negative_lexical=LEXICAL,
    )
    # Ranked by both channels, as the bot ranks it: article 2 first, with its cosine 0.5.
    assert fused.negative_scores == [0.5]


def test_top1_of_a_set_of_articles_counts_only_their_questions() -> None:
    report = EvalReport(4, 0.75, 1.0, 1.0, 0, [], [], ranks=[1, 2, 1, 1], gold=[7, 7, 8, 9])
    assert report.top1_of({7}) == (0.5, 2)
    assert report.top1_of({8, 9}) == (1.0, 2)
    assert report.top1_of({10}) == (0.0, 0)
    with pytest.raises(ValueError):
        EvalReport(2, 1.0, 1.0, 1.0, 0, [], [], ranks=[1, 1], gold=[7]).top1_of({7})


def test_a_summary_gives_the_count_mean_and_quantiles() -> None:
    report = _report()
    assert report.summary([]) == ScoreSummary(0, 0.0, {})
    summary = report.summary([n / 10 for n in range(11)])  # 0.0, 0.1 … 1.0
    assert summary.count == 11
    assert summary.mean == pytest.approx(0.5)
    assert summary.quantiles == pytest.approx(
        {"p5": 0.05, "p10": 0.1, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95}
    )


def test_the_threshold_table_counts_what_passes_each_threshold() -> None:
    report = EvalReport(
        5, 0.6, 1.0, 1.0, 0, [1.0, 0.75, 0.5], [0.75, 0.25], negative_scores=[0.5, 1.0]
    )
    # From the grid line at or below the 5th percentile of the first scores (0.3) up to the
    # best one; a threshold is passed by a score equal to it.
    assert report.threshold_table(step=0.25) == [
        ThresholdRow(0.25, passed=5, right=3, precision=0.6, negatives_passed=1.0),
        ThresholdRow(0.5, passed=4, right=3, precision=0.75, negatives_passed=1.0),
        ThresholdRow(0.75, passed=3, right=2, precision=2 / 3, negatives_passed=0.5),
        ThresholdRow(1.0, passed=1, right=1, precision=1.0, negatives_passed=0.5),
    ]


def test_the_threshold_table_leaves_out_the_lowest_twentieth_of_the_scores() -> None:
    # One first answer in twenty scores 0.5: the 5th percentile lies at 0.975, so the grid
    # starts at 0.75 and never reaches down to the stray 0.5.
    report = EvalReport(20, 0.95, 1.0, 1.0, 0, [1.0] * 19, [0.5])
    assert [row.threshold for row in report.threshold_table(step=0.25)] == [0.75, 1.0]
    assert report.threshold_table(step=0.25)[0].negatives_passed is None, "no negatives given"


def test_the_default_threshold_grid_has_a_step_of_a_hundredth() -> None:
    report = EvalReport(
        4, 0.5, 1.0, 1.0, 0, [0.99, 0.97], [0.98, 0.96], negative_scores=[0.97, 0.5]
    )
    assert report.threshold_table() == [
        ThresholdRow(0.96, passed=4, right=2, precision=0.5, negatives_passed=0.5),
        ThresholdRow(0.97, passed=3, right=2, precision=2 / 3, negatives_passed=0.5),
        ThresholdRow(0.98, passed=2, right=1, precision=0.5, negatives_passed=0.0),
        ThresholdRow(0.99, passed=1, right=1, precision=1.0, negatives_passed=0.0),
        # The grid may end a step past the best score: nothing passes, so nothing wrong does.
        ThresholdRow(1.0, passed=0, right=0, precision=1.0, negatives_passed=0.0),
    ]


def test_no_first_answers_make_an_empty_threshold_table() -> None:
    assert EvalReport(0, 0.0, 0.0, 0.0, 0, [], []).threshold_table() == []


# The fake encoder's vectors: "half" questions lie between the two articles, nearer VPN.
AXES = {
    "VPN": [1.0, 0.0, 0.0, 0.0],
    "как подключить vpn": [1.0, 0.0, 0.0, 0.0],
    "Пароль": [0.0, 1.0, 0.0, 0.0],
    "пароль забыл": [0.0, 1.0, 0.0, 0.0],
    "Логи": [0.0, 0.0, 1.0, 0.0],
    "пароль забыл half": [0.8, 0.6, 0.0, 0.0],
    "забыл пароль, half": [0.8, 0.6, 0.0, 0.0],
}


async def _engine(
    session_factory: async_sessionmaker[AsyncSession], lexical_weight: float
) -> tuple[SearchEngine, FakeEncoder]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [
                ArticleDraft("VPN", "Шаги", ("как подключить vpn",)),
                ArticleDraft("Пароль", "Шаги", ("пароль забыл",)),
                ArticleDraft("Логи", "Шаги"),
            ]
        )
    encoder = FakeEncoder(AXES)
    engine = SearchEngine(encoder, Thresholds(0.9, 0.5), lexical_weight=lexical_weight)  # type: ignore[arg-type]
    await engine.rebuild(session_factory)
    return engine, encoder


ITEMS = [
    EvalItem("как подключить vpn", "VPN"),
    EvalItem("пароль забыл half", "Пароль"),
    EvalItem("где логи", "Статьи такой нет"),
]


async def test_evaluate_ranks_the_active_articles_as_the_bot_does_and_skips_unknown_titles(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, encoder = await _engine(session_factory, lexical_weight=0.5)
    ids = {title: article_id for article_id, title in engine.snapshot.titles.items()}
    report = await evaluate(engine, ITEMS, negatives=["забыл пароль, half"])
    assert (report.n, report.skipped) == (2, 1)
    assert report.gold == [ids["VPN"], ids["Пароль"]]
    # The lexical channel lifts "Пароль" over the nearer VPN for the words it shares.
    assert report.ranks == [1, 1]
    assert report.right_scores == pytest.approx([1.0, 0.6])
    assert report.negative_scores == pytest.approx([0.6])
    assert encoder.encoded == 2 + 1 + 5, "the usable questions, the negative, the phrasings"


async def test_evaluate_without_the_lexical_channel_ranks_by_the_cosine(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine(session_factory, lexical_weight=0.0)
    report = await evaluate(engine, ITEMS)
    assert report.ranks == [1, 2]
    assert report.wrong_scores == pytest.approx([0.8])
    assert report.negative_scores == []
