"""The question log and the articles offered for each question."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.inserts import insert_skipping_duplicates
from knowledge_base.storage.tables import QueryOfferRow, QueryRow, utcnow
from knowledge_base.types import Band, QueryRecord, QuestionLog


class QueryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def log_many(self, questions: Sequence[QuestionLog]) -> list[tuple[int, bool]]:
        """Log questions in one INSERT (the question log's group commit): each one's id, and False
        for one whose `message_key` was logged before (the same message handled again), with
        that earlier row's id."""
        keys = [q.message_key for q in questions if q.message_key is not None]
        known: dict[str, int] = {}
        if keys:
            found = await self._session.execute(
                select(QueryRow.message_key, QueryRow.id).where(QueryRow.message_key.in_(keys))
            )
            known = {row[0]: int(row[1]) for row in found if row[0] is not None}
        # Positions of the questions to insert: all but messages logged before (and the
        # second of one message met twice in this batch).
        fresh: list[int] = []
        for position, question in enumerate(questions):
            key = question.message_key
            if key is None or key not in known:
                fresh.append(position)
                if key is not None:
                    known[key] = -1  # given its id below
        new_ids: dict[int, int] = {}
        if fresh:
            now = utcnow()
            rows = [
                {
                    "user_id": q.user_id,
                    "text": q.text,
                    "article_id": q.article_id,
                    "score": q.score,
                    "band": q.band,
                    "model_version": q.model_version,
                    "message_key": q.message_key,
                    "created_at": now,
                    "offers_recorded": True,
                }
                for q in (questions[i] for i in fresh)
            ]
            result = await self._session.execute(
                insert(QueryRow).returning(QueryRow.id, QueryRow.user_id, QueryRow.text), rows
            )
            # One INSERT numbers its rows in the order of its VALUES (SQLite and PostgreSQL
            # alike); RETURNING may list them in any order, so they are matched back by id,
            # and each row's asker and text prove the match. (Asking for RETURNING in
            # parameter order makes SQLAlchemy send SQLite one INSERT per row.)
            returned = sorted((int(row[0]), row[1], str(row[2])) for row in result)
            expected = [(questions[i].user_id, questions[i].text) for i in fresh]
            if [(user, text) for _, user, text in returned] != expected:
                raise RuntimeError("the logged questions came back in an unexpected order")
            for position, (query_id, _, _) in zip(fresh, returned, strict=True):
                new_ids[position] = query_id
                if (key := questions[position].message_key) is not None:
                    known[key] = query_id
        return [
            (new_ids[position], True)
            if position in new_ids
            else (known[q.message_key or ""], False)
            for position, q in enumerate(questions)
        ]

    async def add_offers(self, query_id: int, article_ids: Iterable[int]) -> None:
        """Note articles offered for the query (again is fine: a replay, a second 👎)."""
        await self.add_offers_many({query_id: article_ids})

    async def add_offers_many(self, offers: Mapping[int, Iterable[int]]) -> None:
        """`add_offers` for several queries, in one INSERT."""
        rows = [
            {"query_id": query_id, "article_id": a}
            for query_id, article_ids in offers.items()
            for a in dict.fromkeys(article_ids)
        ]
        if not rows:
            return
        statement = insert_skipping_duplicates(self._session, QueryOfferRow)
        if statement is not None:
            await self._session.execute(statement, rows)
            return
        for query_id in {row["query_id"] for row in rows}:
            known = set(await self.offers(query_id) or ())
            for row in rows:
                if row["query_id"] == query_id and row["article_id"] not in known:
                    self._session.add(QueryOfferRow(**row))
        await self._session.flush()

    async def offers(self, query_id: int) -> set[int] | None:
        """The articles offered for the query; None for a question older than this record."""
        recorded = await self._session.scalar(
            select(QueryRow.offers_recorded).where(QueryRow.id == query_id)
        )
        if not recorded:
            return None
        found = await self._session.scalars(
            select(QueryOfferRow.article_id).where(QueryOfferRow.query_id == query_id)
        )
        return set(found.all())

    async def get(self, query_id: int) -> QueryRecord | None:
        row = await self._session.get(QueryRow, query_id)
        if row is None:
            return None
        return QueryRecord(
            row.id,
            row.user_id,
            row.text,
            row.article_id,
            row.score,
            Band(row.band),
            row.model_version,
            row.created_at,
        )
