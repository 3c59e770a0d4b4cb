"""The two-channel vector index: curated phrasings by the best one, learned ones by the mean of
the k best, and the best phrasing's cosine as the confidence."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.search.vector_index import VectorIndex


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _reference(
    vectors: np.ndarray, ids: list[int], learned: list[bool], k: int, query: np.ndarray
) -> dict[int, tuple[float, float]]:
    """Per article (ranking, best) computed the slow, obvious way."""
    cosines = vectors @ query
    found: dict[int, tuple[float, float]] = {}
    for article in sorted(set(ids)):
        curated = [
            c for c, i, f in zip(cosines, ids, learned, strict=True) if i == article and not f
        ]
        taught = sorted(
            (c for c, i, f in zip(cosines, ids, learned, strict=True) if i == article and f),
            reverse=True,
        )
        channels = [max(curated)] if curated else []
        if taught:
            channels.append(float(np.mean(taught[:k])))
        found[article] = (max(channels), max(curated + taught))
    return found


@pytest.mark.parametrize("k", [1, 2, 5])
def test_scores_match_the_obvious_computation(k: int) -> None:
    rng = np.random.default_rng(k)
    vectors = _unit(rng.normal(size=(60, 8)).tolist())
    ids = rng.integers(1, 12, size=60).tolist()
    learned = (rng.random(60) < 0.6).tolist()
    queries = _unit(rng.normal(size=(5, 8)).tolist())
    index = VectorIndex(vectors, ids, learned=learned, learned_top_k=k)
    scores = index.scores(queries)
    for row, query in enumerate(queries):
        expected = _reference(vectors, ids, learned, k, query)
        for column, article in enumerate(index.article_ids):
            ranking, best = expected[int(article)]
            assert scores.ranking[row, column] == pytest.approx(ranking, abs=1e-5)
            assert scores.best[row, column] == pytest.approx(best, abs=1e-5)


def test_without_learned_phrasings_ranking_is_the_best_phrasing() -> None:
    vectors = _unit([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]])
    index = VectorIndex(vectors, [7, 3, 7, 3], learned_top_k=5)
    scores = index.scores(np.asarray([0.6, 0.8], dtype=np.float32))
    assert np.array_equal(scores.ranking, scores.best)


def test_one_lucky_learned_phrasing_among_many_does_not_outrank_a_curated_match() -> None:
    # Article 1 (new) matches the question by its title at 0.9. Article 2 carries many
    # learned questions about something else; one of them happens to score 0.95.
    question = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    rows = [[0.9, np.sqrt(1 - 0.81), 0.0]]  # article 1's title
    rows += [[0.0, 0.0, 1.0]]  # article 2's title
    rows += [[0.95, 0.0, np.sqrt(1 - 0.95**2)]]  # the lucky learned question
    rows += [[0.3, 0.0, np.sqrt(1 - 0.09)]] * 9  # its other learned questions
    ids = [1, 2] + [2] * 10
    learned = [False, False] + [True] * 10
    guarded = VectorIndex(_unit(rows), ids, learned=learned, learned_top_k=5).top(question, 2)
    plain = VectorIndex(_unit(rows), ids, learned=learned, learned_top_k=1).top(question, 2)
    assert [m.article_id for m in plain] == [2, 1]
    assert [m.article_id for m in guarded] == [1, 2]
    # The confidence is still each article's best phrasing.
    assert guarded[0].score == pytest.approx(0.9, abs=1e-5)
    assert guarded[1].score == pytest.approx(0.95, abs=1e-5)


def test_a_question_asked_again_is_put_first_with_its_exact_score() -> None:
    # A learned question repeated word for word, but the article's other learned questions are
    # far from it: by the mean it would rank second; `first` (the confirmed articles of that
    # exact question) puts it first, scored by its best phrasing.
    question = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    rows = [[0.0, 1.0, 0.0], [0.7, 0.7, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.1, 1.0]]
    index = VectorIndex(
        _unit(rows), [1, 2, 1, 1, 1], learned=[False, False, True, True, True], learned_top_k=5
    )
    assert [m.article_id for m in index.top(question, 2)] == [2, 1]
    top = index.top(question, 2, first={1})
    assert [m.article_id for m in top] == [1, 2]
    assert top[0].score == pytest.approx(1.0)
    # An id the index does not hold is ignored.
    assert [m.article_id for m in index.top(question, 2, first={99})] == [2, 1]


def test_an_article_with_only_learned_phrasings_is_ranked() -> None:
    index = VectorIndex(_unit([[1, 0], [0, 1]]), [4, 9], learned=[True, False], learned_top_k=3)
    assert [m.article_id for m in index.top(np.asarray([1.0, 0.0], np.float32), 2)] == [4, 9]
    assert index.learned_count == 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="one learned flag per vector"):
        VectorIndex(_unit([[1, 0]]), [1], learned=[True, False])
    with pytest.raises(ValueError, match="learned_top_k must be at least 1"):
        VectorIndex(_unit([[1, 0]]), [1], learned_top_k=0)
