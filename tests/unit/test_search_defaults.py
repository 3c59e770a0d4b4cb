"""The README's numbers for ranking and offering, with the search the bot builds from the default
settings (bot.app.build_resources) over a base with fixed vectors: learned phrasings count by
the mean of their 5 best (SEARCH__LEARNED_TOP_K), all of them if fewer; «Возможно, вы имели в
виду:» offers up to three articles (SEARCH__SUGGESTIONS)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Resources, build_resources
from bot.config import SearchSettings
from knowledge_base.articles import ArticleService
from knowledge_base.search.service import SearchService
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.types import ArticleDraft, Band, PhrasingSource
from tests.fakes.encoders import TableEncoder
from tests.fakes.settings import make_settings

QUESTION = "вопрос"


def _at(cosine: float) -> list[float]:
    """A unit vector at this cosine to the question's [1, 0]."""
    return [cosine, math.sqrt(1.0 - cosine * cosine)]


# Curated articles (a title only) and their cosine to the question.
CURATED = {"C": 0.86, "C2": 0.80, "D": 0.72, "E": 0.68}
# Articles whose title is far off, with learned phrasings (questions people confirmed).
# L: mean of the 5 best 0.85 (of the 4 best 0.875, of all 6 about 0.758); F: 3 of them, 0.70.
LEARNED = {
    "L": [0.95, 0.90, 0.85, 0.80, 0.75, 0.30],
    "F": [0.90, 0.80, 0.40],
}


async def _base_with_learned_phrasings(
    session_factory: async_sessionmaker[AsyncSession],
) -> dict[str, list[float]]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [ArticleDraft(title, "Текст") for title in [*CURATED, *LEARNED]]
        )
        repository = ArticleRepository(session)
        ids = {a.title: a.id for a in await ArticleService(session).all()}
        for title, cosines in LEARNED.items():
            for n in range(len(cosines)):
                await repository.add_phrasing(ids[title], f"{title}-{n}", PhrasingSource.FEEDBACK)
        await session.commit()
    table = {QUESTION: [1.0, 0.0]}
    table |= {title: _at(cosine) for title, cosine in CURATED.items()}
    table |= {title: [0.0, 1.0] for title in LEARNED}
    for title, cosines in LEARNED.items():
        table |= {f"{title}-{n}": _at(c) for n, c in enumerate(cosines)}
    return table


async def _serving(tmp_path: Path, table: dict[str, list[float]], **overrides: object) -> Resources:
    settings = make_settings(tmp_path, tmp_path / "no-such-model", **overrides)
    return await build_resources(settings, encoder=TableEncoder("fixed", table))  # type: ignore[arg-type]


async def test_learned_phrasings_count_by_the_mean_of_their_five_best_all_if_fewer(
    tmp_path: Path, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    table = await _base_with_learned_phrasings(session_factory)
    resources = await _serving(tmp_path, table)
    try:
        ranked = await resources.search.rank(QUESTION, 6)
    finally:
        await resources.close()
    # L by 0.85 between C (0.86) and C2 (0.80); F by the mean of all three, 0.70, between
    # D (0.72) and E (0.68).
    assert [m.title for m in ranked] == ["C", "L", "C2", "D", "F", "E"]
    # The confidence is still each article's best phrasing.
    scores = {m.title: m.score for m in ranked}
    assert scores["L"] == pytest.approx(0.95, abs=1e-5)
    assert scores["F"] == pytest.approx(0.90, abs=1e-5)


@pytest.mark.parametrize(
    ("top_k", "order"),
    [(4, ["L", "C", "C2"]), (6, ["C", "C2", "L"])],
)
async def test_one_more_or_one_fewer_would_rank_otherwise(
    tmp_path: Path,
    session_factory: async_sessionmaker[AsyncSession],
    top_k: int,
    order: list[str],
) -> None:
    """The base above tells 5 apart from its neighbours: what the default test would see."""
    table = await _base_with_learned_phrasings(session_factory)
    resources = await _serving(tmp_path, table, search=SearchSettings(learned_top_k=top_k))
    try:
        ranked = await resources.search.rank(QUESTION, 3)
    finally:
        await resources.close()
    assert [m.title for m in ranked] == order


async def _suggested(
    tmp_path: Path, session_factory: async_sessionmaker[AsyncSession], cosines: dict[str, float]
) -> tuple[Band, list[str]]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [ArticleDraft(title, "Текст") for title in cosines]
        )
    table = {QUESTION: [1.0, 0.0]} | {title: _at(c) for title, c in cosines.items()}
    resources = await _serving(tmp_path, table)
    try:
        async with resources.session_factory() as session:
            answer = await SearchService(resources.search, resources.answer_log, session).answer(
                QUESTION, user_id=10
            )
    finally:
        await resources.close()
    return answer.band, [m.title for m in answer.alternatives]


async def test_an_unsure_answer_offers_three_articles_of_five_close_ones(
    tmp_path: Path, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # The default bands of a model that recommends none: answer 0.90, suggest 0.87.
    close = {"A1": 0.89, "A2": 0.888, "A3": 0.886, "A4": 0.884, "A5": 0.882}
    band, offered = await _suggested(tmp_path, session_factory, close)
    assert band is Band.SUGGEST
    assert offered == ["A1", "A2", "A3"]


async def test_an_unsure_answer_offers_fewer_when_fewer_are_close(
    tmp_path: Path, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    cosines = {"A1": 0.89, "A2": 0.875, "Далеко": 0.869, "Ещё дальше": 0.5}
    band, offered = await _suggested(tmp_path, session_factory, cosines)
    assert band is Band.SUGGEST
    assert offered == ["A1", "A2"]
