"""The seven seed questions find their instruction articles with the real models."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.encoders.torch_encoder import Encoder
from knowledge_base.io import read_articles
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from tests.fakes.paths import SAMPLE_BASE

SEED = {
    "Что такое smoke тест?": "Определение и пример smoke-теста",
    "Что делать при ошибке входа?": "Решение проблем при авторизации",
    "Как получить доступ к логам?": "Инструкция по получению логов",
    "Что делать при баге в проде?": "Алгоритм действий при баге в продакшене",
    "Как сменить пароль?": "Инструкция по смене пароля",
    "Почему ошибка 403?": "Описание ошибки доступа 403",
    "Как проверить, прошли ли тесты?": "Инструкция по проверке выполнения тестов",
}


@pytest.fixture
async def sample_base(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(read_articles(SAMPLE_BASE))
    yield session_factory


def test_seed_questions_are_not_stored_phrasings() -> None:
    stored = {q.casefold() for d in read_articles(SAMPLE_BASE) for q in (d.title, *d.questions)}
    assert not {q.casefold() for q in SEED} & stored
    assert set(SEED.values()) <= {d.title for d in read_articles(SAMPLE_BASE)}


async def _ranks(
    encoder: Encoder, session_factory: async_sessionmaker[AsyncSession]
) -> dict[str, tuple[int, float]]:
    """Per seed question: the rank of its article (99 if not in the top 10) and its margin,
    the article's score minus the best other article's."""
    engine = SearchEngine(encoder, Thresholds(0.9, 0.8))
    await engine.rebuild(session_factory)
    ranks = {}
    for question, title in SEED.items():
        matches = await engine.rank(question, 10)
        titles = [m.title for m in matches]
        gold = next((m.score for m in matches if m.title == title), 0.0)
        best_other = max(m.score for m in matches if m.title != title)
        rank = titles.index(title) + 1 if title in titles else 99
        ranks[question] = (rank, round(gold - best_other, 3))
    print(f"\n{encoder.version}: {ranks}")
    return ranks


async def test_minilm_still_ranks_most_seed_articles_in_the_top_three(
    minilm_encoder: Encoder, sample_base: async_sessionmaker[AsyncSession]
) -> None:
    ranks = await _ranks(minilm_encoder, sample_base)
    # MiniLM reads Cyrillic letter by letter: it misses «Как проверить, прошли ли тесты?»
    # (outside the top 10 today; 6 of 7 in the top 3), which is why the default model is
    # multilingual.
    # Slack of one: a retrained MiniLM may trade one place, not the verdict.
    assert sum(rank <= 3 for rank, _ in ranks.values()) >= 5, ranks


async def test_multilingual_model_puts_each_seed_article_first(
    e5_encoder: Encoder, sample_base: async_sessionmaker[AsyncSession]
) -> None:
    ranks = await _ranks(e5_encoder, sample_base)
    assert all(rank == 1 for rank, _ in ranks.values()), ranks
    # The margin over the runner-up, stated: the smallest today is printed above.
    thinnest = min(margin for _, margin in ranks.values())
    assert thinnest > 0.002, f"a seed article leads its runner-up by only {thinnest}: {ranks}"
