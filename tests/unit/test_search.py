"""Confidence bands and ranking of the search service, with a fake encoder."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.questions import (
    clean_question,
    is_greeting,
    is_thanks,
    question_key,
)
from knowledge_base.search.service import SearchService
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.search.vector_index import VectorIndex
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.embeddings import EmbeddingRepository
from knowledge_base.storage.tables import EmbeddingRow, QueryRow
from knowledge_base.types import ArticleDraft, Band, PhrasingSource
from tests.fakes.encoders import FakeEncoder, GatedEncoder
from tests.fakes.waiting import wait_until

# FakeEncoder maps each known text to a fixed unit vector; anything else is orthogonal to them all.
AXES = {
    "vpn": [1.0, 0.0, 0.0, 0.0],
    "как подключить vpn": [1.0, 0.0, 0.0, 0.0],
    "password": [0.0, 1.0, 0.0, 0.0],
    "пароль забыл": [0.0, 1.0, 0.0, 0.0],
    "logs": [0.0, 0.0, 1.0, 0.0],
    "half vpn": [0.8, 0.6, 0.0, 0.0],
    "mostly vpn": [0.95, 0.312, 0.0, 0.0],
}


def test_band_edges_are_inclusive() -> None:
    bands = Thresholds(answer=0.9, suggest=0.7)
    assert bands.band(0.9) is Band.ANSWER
    assert bands.band(0.8999) is Band.SUGGEST
    assert bands.band(0.7) is Band.SUGGEST
    assert bands.band(0.6999) is Band.NOTHING


def test_index_scores_an_article_by_its_best_phrasing() -> None:
    vectors = np.asarray([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    index = VectorIndex(vectors, [7, 3, 7, 3])
    top = index.top(np.asarray([1.0, 0.0], dtype=np.float32), 5)
    assert [(t.article_id, round(t.score, 3)) for t in top] == [(7, 1.0), (3, 0.8)]
    assert index.phrasing_count == 4 and len(index) == 2


def test_empty_index_ranks_nothing() -> None:
    assert VectorIndex.empty(4).top(np.ones(4, dtype=np.float32), 3) == []


async def _engine_with_base(
    session_factory: async_sessionmaker[AsyncSession], thresholds: Thresholds
) -> tuple[SearchEngine, FakeEncoder]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [
                ArticleDraft("vpn", "Шаги для VPN", ("как подключить vpn",), "IT"),
                ArticleDraft("password", "Шаги для пароля", ("пароль забыл",), "IT"),
                ArticleDraft("logs", "Шаги для логов", (), "IT"),
            ]
        )
    encoder = FakeEncoder(AXES)
    engine = SearchEngine(encoder, thresholds, suggestions=3)  # type: ignore[arg-type]
    await engine.rebuild(session_factory)
    return engine, encoder


@pytest.mark.parametrize(
    ("question", "band", "title"),
    [
        ("как подключить vpn", Band.ANSWER, "vpn"),
        ("mostly vpn", Band.SUGGEST, "vpn"),
        ("something else", Band.NOTHING, "vpn"),
    ],
)
async def test_answer_chooses_the_band_by_the_best_score(
    session_factory: async_sessionmaker[AsyncSession], question: str, band: Band, title: str
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(answer=0.99, suggest=0.5))
    async with session_factory() as session:
        answer = await SearchService(engine, AnswerLog(session_factory), session).answer(
            question, user_id=5
        )
        await session.commit()
    assert answer.band is band
    # Every band names the closest article: for "nothing" it is the guess the admins see.
    assert answer.article is not None
    if band is not Band.NOTHING:
        assert answer.article.title == title
    async with session_factory() as session:
        logged = (await session.scalars(select(QueryRow))).one()
    assert (logged.user_id, logged.text, logged.band) == (5, question, band.value)
    assert logged.article_id == answer.article.id
    assert logged.model_version == "fake-1"


async def test_a_question_taught_to_another_article_cannot_take_over_a_curated_phrasing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(answer=0.99, suggest=0.5))
    async with session_factory() as session:
        articles = ArticleRepository(session)
        password = await articles.get_by_title("password")
        vpn = await articles.get_by_title("vpn")
        assert password is not None and vpn is not None
        # Someone "confirmed" the vpn article's own phrasing for the password article, and
        # the password article's phrasing for the logs article.
        await articles.add_phrasing(password.id, "как подключить vpn", PhrasingSource.FEEDBACK)
        logs = await articles.get_by_title("logs")
        assert logs is not None
        await articles.add_phrasing(logs.id, "Пароль  забыл", PhrasingSource.FEEDBACK)
        await articles.add_phrasing(logs.id, "mostly vpn", PhrasingSource.FEEDBACK)
        await session.commit()
    await engine.rebuild(session_factory)
    first = engine.snapshot.confirmed
    assert first[question_key("как подключить vpn")] == {vpn.id}
    assert first[question_key("пароль забыл")] == {password.id}
    # No curated phrasing says this: the learned one puts its article first.
    assert first[question_key("mostly vpn")] == {logs.id}
    assert (await engine.rank("как подключить vpn", 2))[0].title == "vpn"


async def test_suggestions_keep_only_articles_above_the_suggest_threshold(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(answer=0.99, suggest=0.3))
    async with session_factory() as session:
        answer = await SearchService(engine, AnswerLog(session_factory), session).answer("half vpn")
    assert answer.band is Band.SUGGEST
    # vpn 0.8, password 0.6, logs 0.0: logs is below the suggest threshold.
    assert [m.title for m in answer.alternatives] == ["vpn", "password"]


async def test_an_empty_base_answers_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine = SearchEngine(FakeEncoder(AXES), Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    await engine.rebuild(session_factory)
    async with session_factory() as session:
        answer = await SearchService(engine, AnswerLog(session_factory), session).answer("vpn")
    assert (answer.band, answer.article, answer.alternatives) == (Band.NOTHING, None, ())
    assert answer.query_id is not None


async def test_rebuild_encodes_only_phrasings_without_a_cached_vector(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, encoder = await _engine_with_base(session_factory, Thresholds(0.9, 0.5))
    assert encoder.encoded == 5
    async with session_factory() as session:
        cached = (await session.scalars(select(EmbeddingRow))).all()
        assert len(cached) == 5
        await ArticleService(session).import_drafts(
            [ArticleDraft("logs", "Шаги для логов", ("где логи",), "IT")]
        )
    assert await engine.rebuild(session_factory) == 1
    assert encoder.encoded == 6


async def test_refresh_serves_articles_changed_by_another_process(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(0.9, 0.5))
    assert await engine.refresh_if_changed(session_factory) is False
    # Another process (`faqbot import`) adds a phrasing that makes "half vpn" a sure answer.
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [ArticleDraft("password", "Шаги для пароля", ("half vpn",), "IT")]
        )
    assert await engine.refresh_if_changed(session_factory) is True
    assert [m.title for m in await engine.rank("half vpn", 1)] == ["password"]
    assert await engine.refresh_if_changed(session_factory) is False


async def test_refresh_drops_an_archived_article(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(0.9, 0.5))
    async with session_factory() as session:
        vpn = next(a for a in await ArticleService(session).all() if a.title == "vpn")
        assert await ArticleRepository(session).archive(vpn.id)
        await session.commit()
    assert await engine.refresh_if_changed(session_factory) is True
    assert "vpn" not in [m.title for m in await engine.rank("vpn", 3)]


async def test_a_question_is_kept_even_if_the_caller_fails_after_answering(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(0.9, 0.5))
    with pytest.raises(ConnectionError, match="Telegram is unreachable"):
        async with session_factory() as session:
            await SearchService(engine, AnswerLog(session_factory), session).answer(
                "как подключить vpn", user_id=3
            )
            raise ConnectionError("Telegram is unreachable")  # the reply never went out
    async with session_factory() as session:
        logged = (await session.scalars(select(QueryRow))).one()
    assert (logged.user_id, logged.text) == (3, "как подключить vpn")


async def test_vectors_cached_meanwhile_by_another_process_are_kept(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(0.9, 0.5))
    # A second engine (`faqbot ask` beside the running bot) that has not seen the cache
    # rebuilt with the same phrasings: storing the same vectors again must not fail.
    async with session_factory() as session:
        await EmbeddingRepository(session).store("fake-1", {1: np.ones(4, dtype=np.float32)})
        await session.commit()
        cached = (await session.scalars(select(EmbeddingRow))).all()
    assert len(cached) == 5
    assert await engine.rebuild(session_factory) == 0


async def test_a_cancelled_rebuild_stops_after_the_chunk_in_hand(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C while a large base is encoded must not wait for the whole base."""
    from knowledge_base.search import engine as search

    monkeypatch.setattr(search, "ENCODE_CHUNK", 2)
    async with session_factory() as session:
        await ArticleService(session).import_drafts(
            [ArticleDraft(f"article {n}", "body") for n in range(20)]
        )
    encoder = GatedEncoder(AXES)
    engine = SearchEngine(encoder, Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    running_before = asyncio.all_tasks()
    rebuild = asyncio.create_task(engine.rebuild(session_factory))
    encoder.let_through(1)  # the first chunk is encoded; the second is held in hand
    await wait_until(lambda: len(encoder.started) == 2, 10, "the second chunk in hand")
    rebuild.cancel()
    # The chunk in hand may finish: a worker thread cannot be stopped halfway. A third chunk,
    # had the rebuild gone on, would be held at the gate: noted as begun, never finished.
    encoder.let_through(1)
    with pytest.raises(asyncio.CancelledError):
        await rebuild
    # Nothing of the rebuild is left in the loop to start another chunk once this one is done.
    left = asyncio.all_tasks() - running_before
    assert not left, f"still running after the cancel: {left}"
    await wait_until(lambda: len(encoder.finished) >= 2, 10, "the chunk in hand finished")
    # Encoded: the first chunk and the one in hand at the cancel, and nothing began after them.
    assert [len(texts) for texts in encoder.started] == [2, 2], encoder.started
    assert encoder.finished == encoder.started
    assert len(engine.snapshot.index) == 0, "the half-built index never served"


async def test_a_new_title_reaches_the_index_even_when_its_row_reuses_the_old_id(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine, _ = await _engine_with_base(session_factory, Thresholds(answer=0.99, suggest=0.5))
    async with session_factory() as session:
        articles = ArticleRepository(session)
        newest = max(await articles.active_phrasings(), key=lambda p: p.id)
        assert newest.source == "title"  # the last article's title is the newest row
        await articles.set_title(newest.article_id, "renamed")
        await session.commit()
        renamed = max(await articles.active_phrasings(), key=lambda p: p.id)
    # SQLite gave the new title row the id of the one it replaced: count and id sum alike.
    assert (renamed.id, renamed.text) == (newest.id, "renamed")
    assert await engine.refresh_if_changed(session_factory)
    assert engine.snapshot.titles[newest.article_id] == "renamed"


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u2060 \ufeff", " \u200d\n", "\x00"])
def test_a_message_of_invisible_characters_is_an_empty_question(text: str) -> None:
    assert clean_question(text) == ""
    assert clean_question(f"{text}впн{text}").strip("\u200b\u2060\ufeff\u200d\x00 ") == "впн"


@pytest.mark.parametrize(
    ("text", "greeting", "thanks"),
    [
        ("Привет!!", True, False),
        ("добрый день", True, False),
        ("Здравствуйте 🙂", True, False),
        ("Спасибо большое)", False, True),
        ("ОК", False, True),
        ("привет, как сменить пароль?", False, False),
        ("Здравствуйте. Не работает VPN", False, False),
        ("ок, а где логи?", False, False),
        ("спасибо за пароль, а где взять VPN?", False, False),
        ("пароль", False, False),
    ],
)
def test_only_a_whole_greeting_or_thanks_is_courtesy(
    text: str, greeting: bool, thanks: bool
) -> None:
    assert (is_greeting(text), is_thanks(text)) == (greeting, thanks)
