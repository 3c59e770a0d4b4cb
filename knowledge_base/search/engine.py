"""The long-lived part of search: the serving snapshot, and its rebuild from the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.encoders.base import TextEncoder
from knowledge_base.search.lexical import LexicalIndex
from knowledge_base.search.questions import question_key
from knowledge_base.search.snapshot import ServingSnapshot, Thresholds
from knowledge_base.search.vector_index import LEARNED_TOP_K, VectorIndex
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.embeddings import EmbeddingRepository
from knowledge_base.types import Match, Phrasing

log = logging.getLogger(__name__)


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
        learned=[p.source.learned for p in phrasings],
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
            found = learned if p.source.learned else curated
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
