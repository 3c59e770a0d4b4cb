"""The shipped sample base and its evaluation set keep the promises the README makes."""

from __future__ import annotations

import re
from collections import Counter

from knowledge_base.io import read_articles, read_eval_set
from tests.fakes.paths import SAMPLE_BASE, SAMPLE_EVAL


def _normal(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold().replace("ё", "е"))


def test_sample_base_has_forty_real_articles_with_three_phrasings_each() -> None:
    articles = read_articles(SAMPLE_BASE)
    assert len(articles) >= 40
    assert {a.category for a in articles} == {"IT", "HR", "Офис"}
    for article in articles:
        assert len(article.questions) >= 3, article.title
        assert len(article.body) >= 200 and "\n1." in article.body, article.title


def test_evaluation_questions_are_not_stored_phrasings() -> None:
    articles = read_articles(SAMPLE_BASE)
    stored = {_normal(text) for a in articles for text in (a.title, *a.questions)}
    items = read_eval_set(SAMPLE_EVAL)
    assert len(items) >= 100
    assert {item.title for item in items} <= {a.title for a in articles}
    assert [item.query for item in items if _normal(item.query) in stored] == []
    # Every article is asked about, so the numbers speak for the whole base.
    assert set(Counter(item.title for item in items)) == {a.title for a in articles}
