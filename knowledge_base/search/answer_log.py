"""The question log: answered questions written in groups, one transaction for all that arrived
meanwhile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.batching import MicroBatcher
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.faults import DEFAULT_RETRY_SECONDS, StoreUnavailable, write_retrying
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import Article, QuestionLog

# Questions logged in one transaction at most.
LOG_BATCH = 64


@dataclass(frozen=True)
class _Answered:
    question: QuestionLog
    offers: tuple[int, ...]


class AnswerLog:
    """Logs answered questions, all that arrived meanwhile in one transaction (a group commit),
    and reads the articles their answers show in the same round.

    SQLite takes one writer at a time. Each question logging itself in its own transaction
    (read the article, insert the question, insert its offers, commit: four round trips to
    the database thread, each waiting for a turn of a busy event loop) held the write lock
    across all four while the others slept in SQLite's busy wait: at 100 people asking at once
    the bot logged 70 questions a second with a third of its CPU idle. Here one writer does
    the same four statements for every question in the batch. Each question still waits for
    the commit that includes it before it is answered.

    One log serves a database for the life of the process (the bot's resources build it), so
    that every question shares its batches.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        write_retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._write_retry_seconds = write_retry_seconds
        # A locked database or a full disk is no one question's fault: the batch waits it out
        # (write_retrying) or fails as a whole, instead of each question trying again alone.
        self._batcher: MicroBatcher[_Answered, tuple[Article | None, int, bool]] = MicroBatcher(
            self._write,
            LOG_BATCH,
            retry_alone=lambda error: not isinstance(error, OperationalError | StoreUnavailable),
        )

    async def record(
        self, question: QuestionLog, offers: Iterable[int]
    ) -> tuple[Article | None, int, bool]:
        """Log the question and the articles offered for it; the article it was answered with
        (None if there is none, or it is gone), its id, and False if its message was logged
        before (handled again after a crash: answered again, logged once)."""
        return await self._batcher.submit(_Answered(question, tuple(offers)))

    async def _write(self, batch: list[_Answered]) -> list[tuple[Article | None, int, bool]]:
        """The batch in one transaction, retried while the database refuses it for a while
        (a lock, a full disk); StoreUnavailable past DB__WRITE_RETRY_SECONDS."""
        return await write_retrying(lambda: self._write_once(batch), self._write_retry_seconds)

    async def _write_once(self, batch: list[_Answered]) -> list[tuple[Article | None, int, bool]]:
        async with self._session_factory() as session:
            wanted = {a for entry in batch for a in entry.offers}
            wanted.update(e.question.article_id for e in batch if e.question.article_id)
            # Offers only of articles still there: one deleted since the index was built
            # would fail the whole batch on its foreign key.
            articles = await ArticleRepository(session).shown(wanted)
            queries = QueryRepository(session)
            logged = await queries.log_many([entry.question for entry in batch])
            offers: dict[int, list[int]] = {}
            for entry, (query_id, _) in zip(batch, logged, strict=True):
                offers.setdefault(query_id, []).extend(a for a in entry.offers if a in articles)
            await queries.add_offers_many(offers)
            await session.commit()
        return [
            (articles.get(entry.question.article_id or 0), query_id, new)
            for entry, (query_id, new) in zip(batch, logged, strict=True)
        ]
