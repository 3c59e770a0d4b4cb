"""Answers a question: encode it, rank articles by their best phrasing, apply confidence bands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from knowledge_base.batching import MicroBatcher
from knowledge_base.encoders.base import TextEncoder
from knowledge_base.search.lexical import LexicalIndex
from knowledge_base.search.vector_index import LEARNED_TOP_K, VectorIndex
from knowledge_base.storage.engine import create_session_factory
from knowledge_base.storage.repositories import (
    FEEDBACK_SOURCE,
    Article,
    ArticleRepository,
    EmbeddingRepository,
    Phrasing,
    QueryRepository,
    QuestionLog,
)

log = logging.getLogger(__name__)


class Band(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Thresholds:
    answer: float
    suggest: float

    def band(self, score: float) -> Band:
        if score >= self.answer:
            return Band.ANSWER
        if score >= self.suggest:
            return Band.SUGGEST
        return Band.NOTHING


@dataclass(frozen=True)
class Match:
    article_id: int
    title: str
    score: float


@dataclass(frozen=True)
class Answer:
    band: Band
    score: float
    # The best article; set for every band when the base is not empty (for "nothing" it is
    # only the closest guess, logged for the admins, never shown).
    article: Article | None
    # Suggestions: for "suggest" the articles to offer, best first; otherwise the runners-up.
    alternatives: tuple[Match, ...]
    query_id: int | None
    model_version: str


@dataclass(frozen=True)
class ServingSnapshot:
    """Everything that answers a question, replaced only as a whole.

    A question takes the snapshot once and encodes and scores with it, so a model swap can
    never score one model's query vector against another model's index.
    """

    encoder: TextEncoder
    index: VectorIndex
    titles: Mapping[int, str]
    thresholds: Thresholds
    suggestions: int
    # Phrasings by question_key: a question asked word for word as an article's phrasing puts
    # that article first, whatever its other learned phrasings score. A curated phrasing (the
    # admins' word) takes precedence over a learned one: one person's click on another
    # article cannot take over a question the base already answers by name.
    confirmed: Mapping[str, frozenset[int]] = field(default_factory=dict)
    # The lexical channel over the same phrasings, fused into the ranking with this weight
    # (None or 0: dense only). The bands still judge the dense cosine.
    lexical: LexicalIndex | None = None
    lexical_weight: float = 0.0

    @property
    def model_version(self) -> str:
        return self.encoder.version

    def lexical_scores(self, questions: Sequence[str]) -> np.ndarray | None:
        if self.lexical is None or self.lexical_weight <= 0:
            return None
        return self.lexical.scores(questions)

    async def rank(self, question: str, k: int) -> list[Match]:
        vector = await self.encoder.encode_query(question)
        titles = self.titles
        first = self.confirmed.get(question_key(question), frozenset())
        lexical = self.lexical_scores([question])
        top = self.index.top(
            vector, k, first=first, lexical=lexical, lexical_weight=self.lexical_weight
        )
        return [Match(s.article_id, titles[s.article_id], s.score) for s in top]

    def worth_suggesting(self, matches: Iterable[Match]) -> tuple[Match, ...]:
        """The best matches, up to the number offered, that reach the suggest threshold."""
        good = [m for m in matches if m.score >= self.thresholds.suggest]
        return tuple(good[: self.suggestions])


# Texts encoded per worker-thread call. A cancelled rebuild (Ctrl+C while a large base is
# encoded) stops after the chunk in hand instead of after the whole base.
ENCODE_CHUNK = 256


async def phrasing_vectors(
    encoder: TextEncoder, phrasings: Sequence[Phrasing], cached: Mapping[int, bytes]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One row per phrasing, from the cache where it has one; and the rows encoded now."""
    missing = [p for p in phrasings if p.id not in cached]
    encoded: dict[int, np.ndarray] = {}
    for start in range(0, len(missing), ENCODE_CHUNK):
        chunk = missing[start : start + ENCODE_CHUNK]
        fresh = await asyncio.to_thread(encoder.encode_documents, [p.text for p in chunk])
        encoded.update(zip((p.id for p in chunk), fresh, strict=True))
    vectors = np.zeros((len(phrasings), encoder.dimension), dtype=np.float32)
    for row, phrasing in enumerate(phrasings):
        blob = cached.get(phrasing.id)
        vectors[row] = (
            np.frombuffer(blob, dtype="<f4") if blob is not None else encoded[phrasing.id]
        )
    return vectors, encoded


def phrasing_index(
    vectors: np.ndarray, phrasings: Sequence[Phrasing], learned_top_k: int
) -> VectorIndex:
    """The index of these phrasings (one vector each), learned ones in their own channel."""
    return VectorIndex(
        vectors,
        [p.article_id for p in phrasings],
        learned=[p.source == FEEDBACK_SOURCE for p in phrasings],
        learned_top_k=learned_top_k,
    )


class SearchEngine:
    """The long-lived part of search: holds the current serving snapshot and rebuilds it.

    The snapshot is replaced in one assignment, so a question never sees a half-built index
    or a mix of two models.
    """

    def __init__(
        self,
        encoder: TextEncoder,
        thresholds: Thresholds,
        suggestions: int = 3,
        learned_top_k: int = LEARNED_TOP_K,
        lexical_weight: float = 0.0,
    ) -> None:
        self.learned_top_k = learned_top_k
        self.lexical_weight = lexical_weight
        self.snapshot = ServingSnapshot(
            encoder, VectorIndex.empty(encoder.dimension), {}, thresholds, suggestions
        )
        self._rebuild_lock = asyncio.Lock()
        self._fingerprint: tuple[int, int, str] | None = None

    # The parts of the current snapshot, for callers that need only one of them.
    @property
    def encoder(self) -> TextEncoder:
        return self.snapshot.encoder

    @property
    def thresholds(self) -> Thresholds:
        return self.snapshot.thresholds

    @property
    def model_version(self) -> str:
        return self.snapshot.model_version

    async def rebuild(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        encoder: TextEncoder | None = None,
        thresholds: Thresholds | None = None,
        lexical_weight: float | None = None,
    ) -> int:
        """Re-read the active phrasings and swap in a new snapshot; with `encoder`, switch to
        that model. Only phrasings without a cached vector for the model are encoded."""
        async with self._rebuild_lock:
            return await self._rebuild(session_factory, encoder, thresholds, lexical_weight)

    async def _rebuild(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        encoder: TextEncoder | None,
        thresholds: Thresholds | None,
        lexical_weight: float | None,
    ) -> int:
        """`rebuild`, with the lock already held."""
        weight = self.lexical_weight if lexical_weight is None else lexical_weight
        current = self.snapshot
        encoder = encoder or current.encoder
        thresholds = thresholds or current.thresholds
        async with session_factory() as session:
            articles = ArticleRepository(session)
            embeddings = EmbeddingRepository(session)
            fingerprint = await articles.fingerprint()
            phrasings = await articles.active_phrasings()
            version = encoder.version
            cached = await embeddings.vectors(version, (p.id for p in phrasings))
            titles = await articles.titles({p.article_id for p in phrasings})
        missing = sum(p.id not in cached for p in phrasings)
        if missing:
            log.info("encoding %d phrasings with %s", missing, version)
        vectors, encoded = await phrasing_vectors(encoder, phrasings, cached)
        if encoded:
            # A short transaction of its own: nothing else waits on it.
            async with session_factory() as session:
                await EmbeddingRepository(session).store(version, encoded)
                await session.commit()
        index = phrasing_index(vectors, phrasings, self.learned_top_k)
        lexical = (
            await asyncio.to_thread(LexicalIndex, [p.text for p in phrasings])
            if weight > 0
            else None
        )
        curated: dict[str, set[int]] = {}
        learned: dict[str, set[int]] = {}
        for p in phrasings:
            found = learned if p.source == FEEDBACK_SOURCE else curated
            found.setdefault(question_key(p.text), set()).add(p.article_id)
        confirmed = {**learned, **curated}
        self.snapshot = ServingSnapshot(
            encoder,
            index,
            titles,
            thresholds,
            current.suggestions,
            {key: frozenset(ids) for key, ids in confirmed.items()},
            lexical,
            weight,
        )
        # Only once the snapshot serves: a failed rebuild leaves the weight it served with.
        self.lexical_weight = weight
        self._fingerprint = fingerprint
        log.info(
            "index ready: %s, %d articles, %d phrasings, %d encoded now",
            version,
            len(index),
            index.phrasing_count,
            missing,
        )
        return missing

    async def refresh_if_changed(self, session_factory: async_sessionmaker[AsyncSession]) -> bool:
        """Rebuild when the searchable phrasings changed (say, `faqbot import` beside the bot)."""
        # Under the rebuild lock: several changes at once (many people confirming) queue here,
        # and once one rebuild has served them all the others find nothing left to do.
        async with self._rebuild_lock:
            async with session_factory() as session:
                fingerprint = await ArticleRepository(session).fingerprint()
            if fingerprint == self._fingerprint:
                return False
            await self._rebuild(session_factory, None, None, None)
            return True

    async def rank(self, question: str, k: int) -> list[Match]:
        return await self.snapshot.rank(question, k)


def question_key(text: str) -> str:
    """The form in which two questions count as the same one."""
    return " ".join(text.split()).casefold()


def clean_question(text: str) -> str:
    """One line of text the model, the database and Telegram all accept: whitespace folded,
    lone surrogates (which no UTF-8 codec takes) replaced."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split())


# Questions logged in one transaction at most.
LOG_BATCH = 64
_ANSWER_LOG = "faqbot_answer_log"


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
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        # A locked database or a failed disk is no one question's fault: the batch fails at
        # once instead of each question waiting out the busy timeout in turn.
        self._batcher: MicroBatcher[_Answered, tuple[Article | None, int, bool]] = MicroBatcher(
            self._write,
            LOG_BATCH,
            retry_alone=lambda error: not isinstance(error, OperationalError),
        )

    @classmethod
    def of(cls, engine: AsyncEngine) -> AnswerLog:
        """The one log of this database engine, so that all its questions share batches.
        Kept on the engine itself: it lives and goes with it."""
        log: AnswerLog | None = getattr(engine.sync_engine, _ANSWER_LOG, None)
        if log is None:
            log = cls(create_session_factory(engine))
            setattr(engine.sync_engine, _ANSWER_LOG, log)
        return log

    async def record(
        self, question: QuestionLog, offers: Iterable[int]
    ) -> tuple[Article | None, int, bool]:
        """Log the question and the articles offered for it; the article it was answered with
        (None if there is none, or it is gone), its id, and False if its message was logged
        before (handled again after a crash: answered again, logged once)."""
        return await self._batcher.submit(_Answered(question, tuple(offers)))

    async def _write(self, batch: list[_Answered]) -> list[tuple[Article | None, int, bool]]:
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


class SearchService:
    """Answers and logs every question, and offers the next articles after a 👎.

    Questions are logged by the engine's AnswerLog, in transactions of its own shared with the
    questions asked meanwhile, not in this session; the 👎 offers are written in this session.
    """

    def __init__(self, engine: SearchEngine, session: AsyncSession) -> None:
        self._engine = engine
        self._session = session
        self._queries = QueryRepository(session)

    async def answer(
        self, question: str, user_id: int | None = None, message_key: str | None = None
    ) -> Answer:
        """Answer and log the question. A message handled again (after a crash, with the same
        `message_key`) is answered again but logged once.

        The log commits on a connection of its own: call this with none of your writes pending
        in the session, or SQLite makes the log wait for them (up to its busy timeout).
        """
        question = clean_question(question)
        snapshot = self._engine.snapshot
        matches = await snapshot.rank(question, max(snapshot.suggestions, 1) + 1)
        best = matches[0] if matches else None
        score = best.score if best else 0.0
        band = snapshot.thresholds.band(score) if best else Band.NOTHING
        if band is Band.SUGGEST:
            alternatives = snapshot.worth_suggesting(matches)
        else:
            alternatives = tuple(matches[1 : snapshot.suggestions + 1])
        if band is Band.ANSWER and best is not None:
            offers: list[int] = [best.article_id]
        elif band is Band.SUGGEST:
            offers = [m.article_id for m in alternatives]
        else:
            offers = []
        # Committed before anyone replies: a question is kept even if sending the answer fails,
        # and a button pressed at once finds its query.
        article, query_id, new = await self._answer_log().record(
            QuestionLog(
                user_id=user_id,
                text=question,
                article_id=best.article_id if best else None,
                score=score,
                band=band.value,
                model_version=snapshot.model_version,
                message_key=message_key,
            ),
            offers,
        )
        log.info(
            "query %d: band=%s score=%.3f article=%s%s",
            query_id,
            band,
            score,
            best.article_id if best else None,
            "" if new else " (handled before: answered again, logged once)",
        )
        return Answer(band, score, article, alternatives, query_id, snapshot.model_version)

    def _answer_log(self) -> AnswerLog:
        bind = self._session.bind
        if not isinstance(bind, AsyncEngine):
            raise TypeError("questions are logged through an AsyncEngine; this session has none")
        return AnswerLog.of(bind)

    async def other_articles(self, query_id: int, exclude: int) -> tuple[Match, ...]:
        """After a 👎: the next-closest articles for the same question, worth suggesting."""
        record = await self._queries.get(query_id)
        if record is None:
            return ()
        snapshot = self._engine.snapshot
        matches = await snapshot.rank(record.text, snapshot.suggestions + 1)
        others = snapshot.worth_suggesting(m for m in matches if m.article_id != exclude)
        # Offered now: a pick among them is a confirmation the bot can accept.
        await self._queries.add_offers(query_id, (m.article_id for m in others))
        await self._session.commit()
        return others
