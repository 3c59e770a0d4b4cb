"""The lexical channel: character 3-gram TF-IDF per article, and its fusion with the dense
ranking."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.search.fusion import fuse, min_max
from knowledge_base.search.lexical import LexicalIndex
from knowledge_base.search.vector_index import VectorIndex


def test_each_phrasing_is_scored_in_the_order_given() -> None:
    index = LexicalIndex(["ошибка ORA-12154 при подключении", "сброс пароля", "как сменить пароль"])
    assert len(index) == 3
    [row] = index.scores(["как сменить пароль"])
    assert row[2] == pytest.approx(1.0)
    assert row[0] < 0.2 and 0 < row[1] < 1
    [row] = index.scores(["ORA-12154"])
    assert row.argmax() == 0


def test_an_empty_index_scores_nothing() -> None:
    assert LexicalIndex([]).scores(["вопрос"]).shape == (1, 0)


def test_min_max_scales_each_row_and_leaves_a_flat_row_at_zero() -> None:
    scaled = min_max(np.asarray([[0.8, 0.9, 0.85], [0.5, 0.5, 0.5]], dtype=np.float32))
    assert scaled[0].tolist() == pytest.approx([0.0, 1.0, 0.5])
    assert scaled[1].tolist() == [0.0, 0.0, 0.0]


def test_a_clear_lexical_match_overturns_a_narrow_dense_lead() -> None:
    # Dense: article 0 leads article 1 by a hair, both far above article 2. Lexical: only
    # article 1 shares the error code.
    dense = np.asarray([[0.90, 0.89, 0.80]], dtype=np.float32)
    lexical = np.asarray([[0.05, 0.70, 0.0]], dtype=np.float32)
    assert fuse(dense, lexical, 0.0).argmax() == 0
    assert fuse(dense, lexical, 0.2).argmax() == 1
    # A wide dense lead survives the same lexical evidence.
    wide = np.asarray([[0.90, 0.80, 0.79]], dtype=np.float32)
    assert fuse(wide, lexical, 0.2).argmax() == 0


def test_the_index_fuses_but_keeps_the_dense_cosine_as_the_score() -> None:
    # Given in article order 3, 2, 1: the lexical columns follow the phrasings as given.
    vectors = np.asarray([[0.5, 0.866], [0.99, 0.141], [1.0, 0.0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(vectors, [3, 2, 1])
    query = np.asarray([1.0, 0.0], dtype=np.float32)
    lexical = np.asarray([[0.0, 0.9, 0.0]], dtype=np.float32)
    top = index.top(query, 2, lexical=lexical, lexical_weight=0.5)
    assert [m.article_id for m in top] == [2, 1]
    assert top[0].score == pytest.approx(0.99, abs=1e-3)  # the band judges this
    assert [m.article_id for m in index.top(query, 2)] == [1, 2]
    with pytest.raises(ValueError, match="lexical scores must cover the same queries"):
        index.scores(query, np.zeros((1, 2), dtype=np.float32), 0.5)


def test_the_lexical_channel_has_the_fairness_guard_too() -> None:
    # Article 1: one curated phrasing, a fair lexical match. Article 2: ten learned phrasings,
    # one of which happens to share more 3-grams. By the best phrasing 2 would win; by the
    # mean of its five best learned ones, 1 does.
    vectors = np.tile(np.asarray([[1.0, 0.0]], dtype=np.float32), (11, 1))
    index = VectorIndex(vectors, [1] + [2] * 10, learned=[False] + [True] * 10, learned_top_k=5)
    lexical = np.asarray([[0.5, 0.9] + [0.1] * 9], dtype=np.float32)
    fused = index.scores(np.asarray([1.0, 0.0], dtype=np.float32), lexical, 1.0).ranking[0]
    assert index.article_ids[int(fused.argmax())] == 1
    plain = VectorIndex(vectors, [1] + [2] * 10, learned=[False] + [True] * 10, learned_top_k=1)
    fused = plain.scores(np.asarray([1.0, 0.0], dtype=np.float32), lexical, 1.0).ranking[0]
    assert plain.article_ids[int(fused.argmax())] == 2


def test_the_weighting_is_scikit_learns_tfidf() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [
        "Как  получить доступ к логам?",
        "ошибка ORA-12154\tпри подключении",
        "VPN не подключается: TLS handshake failed",
        "аа",
        "пароль пароль пароль сбросить",
    ]
    questions = ["доступ к логам", "ORA-12154", "сбросить пароль", "zzz"]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), sublinear_tf=True)
    matrix = vectorizer.fit_transform(texts)
    expected = (vectorizer.transform(questions) @ matrix.T).toarray()
    found = LexicalIndex(texts).scores(questions)
    np.testing.assert_allclose(found, expected, atol=1e-6)
