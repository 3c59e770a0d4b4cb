"""The README's INDEX_REFRESH_SECONDS (default 30 s): what another process changed in the base
(`faqbot import`, a model switch) is served by the running bot at the next look, every 30 s.
The refresher's own loop on a fake clock, with the default settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Resources
from bot.runtime.refresher import IndexRefresher
from knowledge_base.articles import ArticleService
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.types import ArticleDraft
from tests.fakes.clock import FakeClock
from tests.fakes.encoders import TableEncoder
from tests.fakes.settings import make_settings


@pytest.fixture
async def serving(tmp_path: Path, migrated_url: str) -> AsyncIterator[Resources]:
    """A serving bot's resources with the default settings; its model directory does not
    exist, so each look only picks up changed articles (no model is loaded)."""
    settings = make_settings(tmp_path, tmp_path / "no-such-model")
    assert settings.database_url == migrated_url
    db_engine = create_engine(migrated_url)
    factory = create_session_factory(db_engine)
    async with factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("VPN", "Шаги")])
    encoder = TableEncoder("serving", {"VPN": [1.0, 0.0], "Пропуск": [0.0, 1.0]})
    search = SearchEngine(encoder, Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    await search.rebuild(factory)
    yield Resources(settings, db_engine, factory, search, AnswerLog(factory))
    await db_engine.dispose()


async def test_an_article_imported_by_another_process_is_served_at_30_s_not_before(
    serving: Resources,
) -> None:
    clock = FakeClock()
    refresher = IndexRefresher(serving, sleep=clock.sleep)
    await refresher.start()
    try:
        await clock.until_sleeping()
        # `faqbot import` in another process, right after the bot started.
        async with serving.session_factory() as session:
            await ArticleService(session).import_drafts([ArticleDraft("Пропуск", "Как")])

        clock.advance(29.0)
        await clock.until_sleeping()  # still the first sleep: nothing woke
        assert clock.sleepers == [30.0]
        assert sorted(serving.search.snapshot.titles.values()) == ["VPN"]

        clock.advance(1.0)
        # The refresher looked, then went back to sleep until 60 s: the look is done.
        await clock.until_sleeping()
        assert clock.sleepers == [60.0]
        assert sorted(serving.search.snapshot.titles.values()) == ["VPN", "Пропуск"]
        assert clock.slept == [30.0, 30.0]
    finally:
        await refresher.stop()


async def test_nothing_changed_is_looked_at_again_every_30_s(serving: Resources) -> None:
    clock = FakeClock()
    refresher = IndexRefresher(serving, sleep=clock.sleep)
    await refresher.start()
    try:
        for look in range(1, 4):
            await clock.until_sleeping()
            assert clock.sleepers == [30.0 * look]
            clock.advance(30.0)
        await clock.until_sleeping()
        assert clock.slept == [30.0] * 4
    finally:
        await refresher.stop()
