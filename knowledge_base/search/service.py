"""Answers a question: rank the articles with the serving snapshot, apply the bands, log it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.search.answer_log import AnswerLog
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.questions import clean_question
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import Answer, Band, Match, QuestionLog

log = logging.getLogger(__name__)


class SearchService:
    """Answers and logs every question, and offers the next articles after a 👎.

    Questions are logged by the process's AnswerLog, in transactions of its own shared with
    the questions asked meanwhile, not in this session; the 👎 offers are written in this
    session.
    """

    def __init__(self, engine: SearchEngine, answer_log: AnswerLog, session: AsyncSession) -> None:
        self._engine = engine
        self._answer_log = answer_log
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
        article, query_id, new = await self._answer_log.record(
            QuestionLog(
                user_id=user_id,
                text=question,
                article_id=best.article_id if best else None,
                score=score,
                band=band,
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

    @property
    def model_version(self) -> str:
        return self._engine.model_version

    async def rank(self, question: str, k: int) -> list[Match]:
        """The k first-ranked articles for a question, as the bot would rank them."""
        return await self._engine.rank(question, k)

    async def closest(self, texts: Iterable[str]) -> Match | None:
        """The existing article closest to any of the texts (an admin's new title or
        phrasings), with its score."""
        best: Match | None = None
        for text in texts:
            for match in await self._engine.rank(text, 1):
                if best is None or match.score > best.score:
                    best = match
        return best

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
