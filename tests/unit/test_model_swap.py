"""Model swaps in the serving bot: one snapshot per question, and a broken model never stops
the articles from refreshing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Resources
from bot.runtime import model_choice
from bot.runtime.refresher import IndexRefresher
from knowledge_base.articles import ArticleService
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.service import SearchService
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.training.registry import ModelRegistry
from knowledge_base.types import ArticleDraft
from tests.fakes.encoders import TableEncoder
from tests.fakes.settings import make_settings


async def test_a_question_is_encoded_and_scored_by_the_same_model_across_a_swap(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [ArticleDraft("x", "X"), ArticleDraft("y", "Y")]
        )
    # The two models disagree completely: a vector of one model against the other model's
    # index finds the wrong article.
    old = TableEncoder("old", {"q": [1.0, 0.0], "x": [1.0, 0.0], "y": [0.0, 1.0]})
    new = TableEncoder("new", {"q": [0.0, 1.0], "x": [0.0, 1.0], "y": [1.0, 0.0]})
    engine = SearchEngine(old, Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    await engine.rebuild(session_factory)
    old.gate = asyncio.Event()

    async def ask() -> tuple[str | None, float, str]:
        async with session_factory() as session:
            answer = await SearchService(engine, AnswerLog(session_factory), session).answer("q")
        return (
            (answer.article.title if answer.article else None),
            answer.score,
            answer.model_version,
        )

    question = asyncio.create_task(ask())
    await old.waiting.wait()  # the question is being encoded by the old model …
    await engine.rebuild(session_factory, new, Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    old.gate.set()  # … and finishes after the swap
    assert await question == ("x", pytest.approx(1.0), "old")
    assert await ask() == ("x", pytest.approx(1.0), "new")


async def test_a_missing_or_broken_model_does_not_stop_article_refreshes(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, tmp_path / "no-such-model", index_refresh_seconds=1)
    db_engine = create_engine(migrated_url)
    factory = create_session_factory(db_engine)
    encoder = TableEncoder("serving", {"a": [1.0, 0.0], "b": [0.0, 1.0]})
    search = SearchEngine(encoder, Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    await search.rebuild(factory)
    refresher = IndexRefresher(Resources(settings, db_engine, factory, search, AnswerLog(factory)))
    attempts: list[Path] = []

    def broken(path: Path, *_: object) -> None:
        attempts.append(path)
        raise OSError("corrupt weights")

    monkeypatch.setattr(model_choice, "load_encoder", broken)
    try:
        async with factory() as session:
            await ArticleService(session).import_drafts([ArticleDraft("a", "A")])
        await refresher.refresh()  # the configured model directory does not exist
        assert search.snapshot.titles == {1: "a"} and attempts == []

        # A trained version is activated whose weights cannot be loaded.
        models = settings.model.models_dir
        broken_dir = tmp_path / "ft-broken"
        broken_dir.mkdir()
        (broken_dir / "modules.json").write_text("[]")
        async with factory() as session:
            registry = ModelRegistry(session, models)
            parent = await registry.active_model(settings.model.resolved_path())
            await registry.record(
                name="ft-broken", path=broken_dir, parent=parent, metrics={}, promote=True
            )
            await session.commit()
            await ArticleService(session).import_drafts([ArticleDraft("b", "B")])
        await refresher.refresh()
        await refresher.refresh()
        assert attempts == [broken_dir], "a model that failed is not loaded again and again"
        assert search.snapshot.encoder is encoder
        assert sorted(search.snapshot.titles.values()) == ["a", "b"]
    finally:
        await db_engine.dispose()
