"""The only place that talks SQL; every method returns plain dataclasses, never ORM rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.expression import Executable

from knowledge_base.storage.tables import (
    ArticleRow,
    AuditRow,
    Base,
    EmbeddingRow,
    FeedbackRow,
    ModelVersionRow,
    PhrasingRow,
    QueryOfferRow,
    QueryRow,
    utcnow,
)

TITLE_SOURCE = "title"
# Questions people confirmed (a 👍, a picked suggestion, an inbox group attached): served at
# once, in the learned channel of the index.
FEEDBACK_SOURCE = "feedback"
# A confirmed question waiting for an admin (auto-learning off): kept, never served.
PENDING_SOURCE = "pending"
# A confirmed question an admin rejected: kept, never served, and never queued again.
REJECTED_SOURCE = "rejected"
NOT_SERVED = (PENDING_SOURCE, REJECTED_SOURCE)


def insert_skipping_duplicates(
    session: AsyncSession, table: type[Base], rows: Sequence[Mapping[str, object]] = ()
) -> Insert | None:
    """INSERT … ON CONFLICT DO NOTHING where the database has it (SQLite, PostgreSQL): one
    statement, no savepoint left to roll back. None elsewhere. With no `rows`, the statement
    takes them as parameters (executemany: compiled once, cached)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return None
    statement = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table)
    if rows:
        statement = statement.values(list(rows))
    return statement.on_conflict_do_nothing()


@dataclass(frozen=True)
class ArticleDraft:
    """An article as a user writes it in an import file."""

    title: str
    body: str
    questions: tuple[str, ...] = ()
    category: str = ""
    # Set only by an admin writing in Telegram (see ArticleRow.body_html).
    body_html: str | None = None


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    body: str
    category: str
    archived: bool
    # Every phrasing but the title, in the order they were added.
    questions: tuple[str, ...] = ()
    # The body with an admin's Telegram formatting, when it was written in Telegram.
    body_html: str | None = None


@dataclass(frozen=True)
class Phrasing:
    id: int
    article_id: int
    text: str
    source: str


@dataclass(frozen=True)
class QueryRecord:
    id: int
    user_id: int | None
    text: str
    article_id: int | None
    score: float
    band: str
    model_version: str
    created_at: datetime


@dataclass(frozen=True)
class QuestionLog:
    """A question to log: what was asked, and what the bot made of it."""

    user_id: int | None
    text: str
    article_id: int | None
    score: float
    band: str
    model_version: str
    # The Telegram update it came in ("telegram:<bot>:<update>"): logged once however often
    # the update is handled.
    message_key: str | None = None


@dataclass(frozen=True)
class Click:
    """A stored click with the question it answers: the raw material of a training pair."""

    query: str
    article_id: int
    label: int


@dataclass(frozen=True)
class ModelVersion:
    name: str
    path: Path
    parent: str | None
    status: str
    created_at: datetime
    activated_at: datetime | None
    metrics: str


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    query_id: int
    article_id: int | None
    label: int
    user_id: int | None


class ArticleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, article_id: int) -> Article | None:
        row = await self._session.get(ArticleRow, article_id)
        return await self._to_article(row) if row else None

    async def shown(self, article_ids: Iterable[int]) -> dict[int, Article]:
        """The articles as an answer shows them (without their phrasings), by id."""
        ids = set(article_ids)
        if not ids:
            return {}
        rows = await self._session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)))
        return {row.id: _article(row, ()) for row in rows}

    async def get_by_title(self, title: str) -> Article | None:
        row = await self._session.scalar(select(ArticleRow).where(ArticleRow.title == title))
        return await self._to_article(row) if row else None

    async def all(self, include_archived: bool = False) -> list[Article]:
        query = select(ArticleRow).order_by(ArticleRow.id)
        if not include_archived:
            query = query.where(ArticleRow.archived.is_(False))
        rows = (await self._session.scalars(query)).all()
        questions = await self._questions_of([r.id for r in rows])
        return [_article(r, questions.get(r.id, ())) for r in rows]

    async def count(self, include_archived: bool = False) -> int:
        query = select(func.count(ArticleRow.id))
        if not include_archived:
            query = query.where(ArticleRow.archived.is_(False))
        return int(await self._session.scalar(query) or 0)

    async def categories(self) -> list[str]:
        count = func.count(ArticleRow.id)
        rows = await self._session.execute(
            select(ArticleRow.category)
            .where(ArticleRow.archived.is_(False), ArticleRow.category != "")
            .group_by(ArticleRow.category)
            .order_by(count.desc(), ArticleRow.category)
        )
        return [row.category for row in rows]

    async def fingerprint(self) -> tuple[int, int, str]:
        """Changes whenever the set of searchable phrasings does: their count, id sum and the
        newest one's time. The time catches a phrasing replaced in one transaction (a new
        title), whose row SQLite may give the id of the one it replaced."""
        row = await self._session.execute(
            select(
                func.count(PhrasingRow.id),
                func.coalesce(func.sum(PhrasingRow.id), 0),
                func.max(PhrasingRow.created_at),
            )
            .join(ArticleRow, ArticleRow.id == PhrasingRow.article_id)
            .where(ArticleRow.archived.is_(False), PhrasingRow.source.not_in(NOT_SERVED))
        )
        count, total, newest = row.one()
        return int(count), int(total), str(newest)

    async def titles(self, article_ids: Iterable[int]) -> dict[int, str]:
        ids = list(article_ids)
        if not ids:
            return {}
        rows = await self._session.execute(
            select(ArticleRow.id, ArticleRow.title).where(ArticleRow.id.in_(ids))
        )
        return {row.id: row.title for row in rows}

    async def upsert(self, draft: ArticleDraft, source: str = "import") -> tuple[Article, str]:
        """Create or update the article titled `draft.title`; returns it and added/updated/same.

        Phrasings are only ever added here: learned ones must survive a re-import.
        """
        row = await self._session.scalar(select(ArticleRow).where(ArticleRow.title == draft.title))
        outcome = "same"
        if row is None:
            row = ArticleRow(
                title=draft.title,
                body=draft.body,
                category=draft.category,
                body_html=draft.body_html,
            )
            row.archived = False
            self._session.add(row)
            await self._session.flush()
            self._session.add(PhrasingRow(article_id=row.id, text=draft.title, source=TITLE_SOURCE))
            outcome = "added"
        elif (row.body, row.category, row.archived) != (draft.body, draft.category, False):
            row.body, row.category, row.archived = draft.body, draft.category, False
            # A file carries plain text: the formatting of the old body would not match it.
            row.body_html = None
            outcome = "updated"
        known = set(
            (
                await self._session.scalars(
                    select(PhrasingRow.text).where(PhrasingRow.article_id == row.id)
                )
            ).all()
        )
        for text in dict.fromkeys(draft.questions):
            if text not in known:
                self._session.add(PhrasingRow(article_id=row.id, text=text, source=source))
                if outcome == "same":
                    outcome = "updated"
        await self._session.flush()
        return await self._to_article(row), outcome

    async def add_phrasing(self, article_id: int, text: str, source: str) -> bool:
        """Add one phrasing; False when the article already has exactly this text (also when
        another transaction added it a moment ago: two people confirming at once)."""
        values = {"article_id": article_id, "text": text, "source": source, "created_at": utcnow()}
        statement = insert_skipping_duplicates(self._session, PhrasingRow, [values])
        if statement is not None:
            added = await self._session.scalar(statement.returning(PhrasingRow.id))
            return added is not None
        exists = await self._session.scalar(
            select(PhrasingRow.id).where(
                PhrasingRow.article_id == article_id, PhrasingRow.text == text
            )
        )
        if exists is not None:
            return False
        self._session.add(PhrasingRow(**values))
        await self._session.flush()
        return True

    async def archive(self, article_id: int) -> bool:
        row = await self._session.get(ArticleRow, article_id)
        if row is None or row.archived:
            return False
        row.archived = True
        await self._session.flush()
        return True

    async def restore(self, article_id: int) -> bool:
        row = await self._session.get(ArticleRow, article_id)
        if row is None or not row.archived:
            return False
        row.archived = False
        await self._session.flush()
        return True

    async def set_title(self, article_id: int, title: str) -> None:
        """Rename; the title phrasing is replaced (a new row), so its vector is made afresh."""
        row = await self._session.get(ArticleRow, article_id)
        assert row is not None
        await self._session.execute(
            delete(PhrasingRow).where(
                PhrasingRow.article_id == article_id, PhrasingRow.source == TITLE_SOURCE
            )
        )
        row.title = title
        self._session.add(PhrasingRow(article_id=article_id, text=title, source=TITLE_SOURCE))
        await self._session.flush()

    async def set_body(self, article_id: int, body: str, body_html: str | None = None) -> None:
        row = await self._session.get(ArticleRow, article_id)
        assert row is not None
        row.body, row.body_html = body, body_html
        await self._session.flush()

    async def phrasings_of(self, article_id: int) -> list[Phrasing]:
        rows = await self._session.execute(
            select(PhrasingRow.id, PhrasingRow.article_id, PhrasingRow.text, PhrasingRow.source)
            .where(PhrasingRow.article_id == article_id)
            .order_by(PhrasingRow.id)
        )
        return [Phrasing(r.id, r.article_id, r.text, r.source) for r in rows]

    async def pending_phrasings(self) -> list[Phrasing]:
        """Learned phrasings waiting for an admin, of articles still served, oldest first."""
        rows = await self._session.execute(
            select(PhrasingRow.id, PhrasingRow.article_id, PhrasingRow.text, PhrasingRow.source)
            .join(ArticleRow, ArticleRow.id == PhrasingRow.article_id)
            .where(ArticleRow.archived.is_(False), PhrasingRow.source == PENDING_SOURCE)
            .order_by(PhrasingRow.id)
        )
        return [Phrasing(r.id, r.article_id, r.text, r.source) for r in rows]

    async def approve_phrasing(self, phrasing_id: int) -> Phrasing | None:
        """A pending phrasing becomes a learned one; None if it is not pending (any more)."""
        row = await self._session.get(PhrasingRow, phrasing_id)
        if row is None or row.source != PENDING_SOURCE:
            return None
        # A new time: the index's fingerprint sees the phrasing arrive.
        row.source, row.created_at = FEEDBACK_SOURCE, utcnow()
        await self._session.flush()
        return Phrasing(row.id, row.article_id, row.text, row.source)

    async def reject_phrasing(self, phrasing_id: int) -> Phrasing | None:
        """A pending phrasing is marked rejected; None if it is not pending (any more)."""
        row = await self._session.get(PhrasingRow, phrasing_id)
        if row is None or row.source != PENDING_SOURCE:
            return None
        row.source = REJECTED_SOURCE
        await self._session.flush()
        return Phrasing(row.id, row.article_id, row.text, row.source)

    async def delete_phrasing(self, phrasing_id: int) -> Phrasing | None:
        """Delete one phrasing (never the title's); what was deleted, or None."""
        row = await self._session.get(PhrasingRow, phrasing_id)
        if row is None or row.source == TITLE_SOURCE:
            return None
        deleted = Phrasing(row.id, row.article_id, row.text, row.source)
        await self._session.delete(row)
        await self._session.flush()
        return deleted

    async def page(
        self, words: str, offset: int, limit: int, archived: bool = False
    ) -> tuple[list[Article], int]:
        """A page of articles, by title, whose title or body contains every word; and how
        many match in all. Matched in Python: SQLite's lower() knows only ASCII letters."""
        rows = (
            await self._session.scalars(
                select(ArticleRow)
                .where(ArticleRow.archived.is_(archived))
                .order_by(ArticleRow.title)
            )
        ).all()
        wanted = words.casefold().split()
        found = [r for r in rows if all(w in f"{r.title}\n{r.body}".casefold() for w in wanted)]
        return [_article(r, ()) for r in found[offset : offset + limit]], len(found)

    async def usage(self, article_id: int) -> tuple[int, int, int]:
        """Questions answered with the article, and its 👍 and 👎."""
        answered = await self._session.scalar(
            select(func.count(QueryRow.id)).where(
                QueryRow.article_id == article_id, QueryRow.band == "answer"
            )
        )
        rows = await self._session.execute(
            select(FeedbackRow.label, func.count(FeedbackRow.id))
            .where(FeedbackRow.article_id == article_id)
            .group_by(FeedbackRow.label)
        )
        votes = {int(label): int(count) for label, count in rows.all()}
        return int(answered or 0), int(votes.get(1, 0)), int(votes.get(-1, 0))

    async def active_phrasings(self) -> list[Phrasing]:
        rows = await self._session.execute(
            select(PhrasingRow.id, PhrasingRow.article_id, PhrasingRow.text, PhrasingRow.source)
            .join(ArticleRow, ArticleRow.id == PhrasingRow.article_id)
            .where(ArticleRow.archived.is_(False), PhrasingRow.source.not_in(NOT_SERVED))
            .order_by(PhrasingRow.article_id, PhrasingRow.id)
        )
        return [Phrasing(r.id, r.article_id, r.text, r.source) for r in rows]

    async def _questions_of(self, article_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        if not article_ids:
            return {}
        rows = await self._session.execute(
            select(PhrasingRow.article_id, PhrasingRow.text)
            .where(
                PhrasingRow.article_id.in_(article_ids),
                PhrasingRow.source.not_in((TITLE_SOURCE, *NOT_SERVED)),
            )
            .order_by(PhrasingRow.id)
        )
        found: dict[int, list[str]] = {}
        for row in rows:
            found.setdefault(row.article_id, []).append(row.text)
        return {key: tuple(value) for key, value in found.items()}

    async def _to_article(self, row: ArticleRow) -> Article:
        questions = await self._questions_of([row.id])
        return _article(row, questions.get(row.id, ()))


def _article(row: ArticleRow, questions: tuple[str, ...]) -> Article:
    return Article(
        row.id, row.title, row.body, row.category, row.archived, questions, row.body_html
    )


class EmbeddingRepository:
    """Phrasing vectors cached per model version, so a restart does not re-encode the base."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def vectors(self, model_version: str, phrasing_ids: Iterable[int]) -> dict[int, bytes]:
        wanted = set(phrasing_ids)
        rows = await self._session.execute(
            select(EmbeddingRow.phrasing_id, EmbeddingRow.vector).where(
                EmbeddingRow.model_version == model_version
            )
        )
        return {r.phrasing_id: r.vector for r in rows if r.phrasing_id in wanted}

    async def store(self, model_version: str, vectors: Mapping[int, np.ndarray]) -> None:
        """Cache vectors; one another process cached meanwhile (the bot beside a CLI) is kept."""
        if not vectors:
            return
        rows = [
            {
                "phrasing_id": phrasing_id,
                "model_version": model_version,
                "vector": np.asarray(vector, dtype="<f4").tobytes(),
            }
            for phrasing_id, vector in vectors.items()
        ]
        dialect = self._session.get_bind().dialect.name
        statement: Executable
        if dialect == "sqlite":
            statement = sqlite_insert(EmbeddingRow).on_conflict_do_nothing()
        elif dialect == "postgresql":
            statement = postgresql_insert(EmbeddingRow).on_conflict_do_nothing()
        else:
            statement = insert(EmbeddingRow)
        await self._session.execute(statement, rows)

    async def forget_version(self, model_version: str) -> None:
        await self._session.execute(
            delete(EmbeddingRow).where(EmbeddingRow.model_version == model_version)
        )


class QueryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def log(
        self,
        *,
        user_id: int | None,
        text: str,
        article_id: int | None,
        score: float,
        band: str,
        model_version: str,
        message_key: str | None = None,
    ) -> tuple[int, bool]:
        """Log a question; its id, and False when `message_key` was logged before (the same
        message handled again), in which case that earlier row's id is returned."""
        [logged] = await self.log_many(
            [QuestionLog(user_id, text, article_id, score, band, model_version, message_key)]
        )
        return logged

    async def log_many(self, questions: Sequence[QuestionLog]) -> list[tuple[int, bool]]:
        """`log` for several questions in one INSERT (the question log's group commit): each
        one's id, and whether it is new."""
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
            row.band,
            row.model_version,
            row.created_at,
        )


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, query_id: int, article_id: int | None, label: int, user_id: int | None
    ) -> int | None:
        """Store a click; None when the same click is already stored (a double tap).

        One statement that skips a duplicate instead of failing on it: no savepoint to roll
        back, so nothing is left half-open while the caller talks to Telegram.
        """
        values = {
            "query_id": query_id,
            "article_id": article_id,
            "label": label,
            "user_id": user_id,
            "created_at": utcnow(),
        }
        statement = insert_skipping_duplicates(self._session, FeedbackRow, [values])
        if statement is not None:
            return await self._session.scalar(statement.returning(FeedbackRow.id))
        row = FeedbackRow(**values)
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return None
        return row.id

    async def for_query(self, query_id: int) -> list[FeedbackRecord]:
        rows = await self._session.scalars(
            select(FeedbackRow).where(FeedbackRow.query_id == query_id).order_by(FeedbackRow.id)
        )
        return [FeedbackRecord(r.id, r.query_id, r.article_id, r.label, r.user_id) for r in rows]

    async def confirmations(self, article_id: int) -> list[tuple[str, int | None]]:
        """(question, person) of every 👍 and pick of an article, oldest first."""
        rows = await self._session.execute(
            select(QueryRow.text, FeedbackRow.user_id)
            .join(QueryRow, QueryRow.id == FeedbackRow.query_id)
            .where(FeedbackRow.article_id == article_id, FeedbackRow.label == 1)
            .order_by(FeedbackRow.id)
        )
        return [(row.text, row.user_id) for row in rows]

    async def clicks_on_active_articles(self) -> list[Click]:
        """Every 👍/👎 on an article that is still served, with the question's text."""
        rows = await self._session.execute(
            select(QueryRow.text, FeedbackRow.article_id, FeedbackRow.label)
            .join(QueryRow, QueryRow.id == FeedbackRow.query_id)
            .join(ArticleRow, ArticleRow.id == FeedbackRow.article_id)
            .where(ArticleRow.archived.is_(False))
            .order_by(FeedbackRow.id)
        )
        return [Click(r.text, r.article_id, r.label) for r in rows]


class ModelVersionRepository:
    """The registry of model versions; paths inside the models directory are kept relative."""

    def __init__(self, session: AsyncSession, models_dir: Path) -> None:
        self._session = session
        self._models_dir = models_dir

    async def all(self) -> list[ModelVersion]:
        rows = await self._session.scalars(
            select(ModelVersionRow).order_by(ModelVersionRow.created_at, ModelVersionRow.id)
        )
        return [self._version(row) for row in rows]

    async def get(self, name: str) -> ModelVersion | None:
        row = await self._row(name)
        return self._version(row) if row else None

    async def active(self) -> ModelVersion | None:
        row = await self._session.scalar(
            select(ModelVersionRow).where(ModelVersionRow.status == "active")
        )
        return self._version(row) if row else None

    async def latest_with_status(self, status: str) -> ModelVersion | None:
        """The most recently activated version with this status (for a rollback: "previous")."""
        row = await self._session.scalar(
            select(ModelVersionRow)
            .where(ModelVersionRow.status == status)
            .order_by(ModelVersionRow.activated_at.desc(), ModelVersionRow.id.desc())
            .limit(1)
        )
        return self._version(row) if row else None

    async def add(
        self, *, name: str, path: Path, parent: str | None, status: str, metrics: str = "{}"
    ) -> ModelVersion:
        row = ModelVersionRow(
            name=name, path=self._stored_path(path), parent=parent, status=status, metrics=metrics
        )
        self._session.add(row)
        await self._session.flush()
        return self._version(row)

    async def set_status(
        self, name: str, status: str, activated_at: datetime | None = None
    ) -> None:
        row = await self._row(name)
        if row is None:
            raise KeyError(name)
        row.status = status
        if activated_at is not None:
            row.activated_at = activated_at
        await self._session.flush()

    async def _row(self, name: str) -> ModelVersionRow | None:
        return await self._session.scalar(
            select(ModelVersionRow).where(ModelVersionRow.name == name)
        )

    def _stored_path(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self._models_dir.resolve()))
        except ValueError:
            return str(path.resolve())

    def _version(self, row: ModelVersionRow) -> ModelVersion:
        path = Path(row.path)
        return ModelVersion(
            name=row.name,
            path=path if path.is_absolute() else self._models_dir / path,
            parent=row.parent,
            status=row.status,
            created_at=row.created_at,
            activated_at=row.activated_at,
            metrics=row.metrics,
        )


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: int
    at: datetime
    action: str
    article_id: int | None
    before: str
    after: str


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, actor_id: int, action: str, article_id: int | None, before: str, after: str
    ) -> None:
        self._session.add(
            AuditRow(
                actor_id=actor_id,
                action=action,
                article_id=article_id,
                before=before,
                after=after,
            )
        )
        await self._session.flush()

    async def latest(self, limit: int) -> list[AuditEntry]:
        rows = await self._session.scalars(
            select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        )
        return [
            AuditEntry(r.id, r.actor_id, r.at, r.action, r.article_id, r.before, r.after)
            for r in rows
        ]
