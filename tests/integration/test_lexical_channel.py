"""The lexical channel stays in step with the base, as the vector index does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.io import read_articles
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.service import SearchService
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.types import ArticleDraft
from tests.fakes.paths import SAMPLE_BASE

ORACLE = ArticleDraft(
    "Ошибка ORA-28000: учётная запись Oracle заблокирована",
    "Попросите DBA разблокировать учётную запись.",
    ("ORA-28000 the account is locked",),
)


async def test_articles_added_and_archived_reach_the_lexical_channel(
    e5_onnx_encoder: OnnxEncoder, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(read_articles(SAMPLE_BASE))
    engine = SearchEngine(e5_onnx_encoder, Thresholds(0.9, 0.87), lexical_weight=0.2)
    await engine.rebuild(session_factory)

    def in_step() -> None:
        snapshot = engine.snapshot
        assert snapshot.lexical is not None
        assert len(snapshot.lexical) == snapshot.index.phrasing_count

    in_step()
    async with session_factory() as session:
        await ArticleService(session).import_drafts([ORACLE])
        oracle = await ArticleRepository(session).get_by_title(ORACLE.title)
    assert oracle is not None
    assert await engine.refresh_if_changed(session_factory)
    in_step()
    [first, *_] = await engine.rank("вылетает ORA-28000", 3)
    assert first.article_id == oracle.id
    # The lexical channel alone (weight 1) also puts it first.
    snapshot = engine.snapshot
    lexical = snapshot.lexical_scores(["вылетает ORA-28000"])
    vector = e5_onnx_encoder.encode_queries(["вылетает ORA-28000"])
    alone = snapshot.index.scores(vector, lexical, 1.0).ranking[0]
    assert snapshot.index.article_ids[int(alone.argmax())] == oracle.id

    async with session_factory() as session:
        assert await ArticleRepository(session).archive(oracle.id)
        await session.commit()
    assert await engine.refresh_if_changed(session_factory)
    in_step()
    assert oracle.id not in engine.snapshot.index.article_ids
    async with session_factory() as session:
        answer = await SearchService(engine, AnswerLog(session_factory), session).answer(
            "вылетает ORA-28000", user_id=1
        )
    assert answer.article is not None and answer.article.id != oracle.id
