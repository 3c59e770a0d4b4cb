"""The question log's group commit: questions that arrive together are logged in one
transaction, each with its own id and offers, and a replayed message is logged once."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.storage.tables import QueryOfferRow, QueryRow
from knowledge_base.types import ArticleDraft, QuestionLog


async def _articles(session_factory: async_sessionmaker[AsyncSession]) -> list[int]:
    async with session_factory() as session:
        service = ArticleService(session)
        await service.import_drafts([ArticleDraft("VPN", "Шаги"), ArticleDraft("Логи", "Kibana")])
        ids = [a.id for a in await service.all()]
        await session.commit()
    return ids


def _question(n: int, article_id: int | None, key: str | None = None) -> QuestionLog:
    return QuestionLog(n, f"вопрос {n}", article_id, 0.9, "answer", "m", key)


async def test_questions_logged_together_keep_their_own_ids_and_keys(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    vpn, logs = await _articles(session_factory)
    async with session_factory() as session:
        [(earlier, new)] = await QueryRepository(session).log_many([_question(0, vpn, "t:1:1")])
        await session.commit()
    assert new

    batch = [
        _question(1, vpn),
        _question(2, logs, "t:1:1"),  # handled before: its earlier row
        _question(3, None, "t:1:2"),
        _question(4, logs, "t:1:2"),  # the same message twice in one batch: logged once
        _question(5, vpn),
    ]
    async with session_factory() as session:
        logged = await QueryRepository(session).log_many(batch)
        await session.commit()
        rows = {r.id: r for r in (await session.scalars(select(QueryRow))).all()}

    assert [new for _, new in logged] == [True, False, True, False, True]
    assert logged[1][0] == earlier
    assert logged[3][0] == logged[2][0]
    assert len({query_id for query_id, _ in logged}) == 4
    for (query_id, new), question in zip(logged, batch, strict=True):
        if new:  # each id names the row of its own question
            assert (rows[query_id].text, rows[query_id].user_id) == (
                question.text,
                question.user_id,
            )
    assert len(rows) == 4  # the earlier one and three new


async def test_concurrent_answers_share_one_commit_and_each_gets_its_offers(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    vpn, logs = await _articles(session_factory)
    async with session_factory() as session:
        engine = session.bind
    answer_log = AnswerLog(session_factory)
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(engine.sync_engine, "commit", count)  # type: ignore[union-attr]
    try:
        found = await asyncio.gather(
            *(
                answer_log.record(_question(n, vpn if n % 2 else logs), [vpn, logs][: n % 3])
                for n in range(10)
            )
        )
    finally:
        event.remove(engine.sync_engine, "commit", count)  # type: ignore[union-attr]

    assert len(commits) == 1  # ten questions, one transaction
    assert [article.id if article else None for article, _, _ in found] == [
        vpn if n % 2 else logs for n in range(10)
    ]
    assert all(new for _, _, new in found)
    async with session_factory() as session:
        offers = await session.execute(select(QueryOfferRow.query_id, QueryOfferRow.article_id))
        by_query: dict[int, set[int]] = {}
        for query_id, article_id in offers:
            by_query.setdefault(query_id, set()).add(article_id)
    for n, (_, query_id, _) in enumerate(found):
        assert by_query.get(query_id, set()) == set([vpn, logs][: n % 3])


async def test_one_bad_question_does_not_lose_the_others_in_its_batch(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    vpn, _ = await _articles(session_factory)
    answer_log = AnswerLog(session_factory)
    # An article that does not exist: its row breaks the foreign key, so the batch's one
    # transaction fails, and each question is then logged on its own.
    results = await asyncio.gather(
        answer_log.record(_question(1, vpn), [vpn]),
        answer_log.record(_question(2, 999_999), []),
        answer_log.record(_question(3, vpn), [vpn]),
        return_exceptions=True,
    )
    assert isinstance(results[1], Exception)
    good = [r for r in results if not isinstance(r, BaseException)]
    assert len(good) == 2
    async with session_factory() as session:
        texts = (await session.scalars(select(QueryRow.text).order_by(QueryRow.id))).all()
    assert texts == ["вопрос 1", "вопрос 3"]


async def test_an_offer_of_an_article_gone_since_is_left_out(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    vpn, logs = await _articles(session_factory)
    answer_log = AnswerLog(session_factory)
    article, query_id, new = await answer_log.record(_question(1, vpn), [vpn, 999_999, logs])
    assert article is not None and article.id == vpn and new
    async with session_factory() as session:
        assert await QueryRepository(session).offers(query_id) == {vpn, logs}
