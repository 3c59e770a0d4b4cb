"""Records what users click under an answer: the (question, article, label) training pairs."""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.search.service import question_key
from knowledge_base.storage.repositories import (
    FEEDBACK_SOURCE,
    PENDING_SOURCE,
    ArticleRepository,
    FeedbackRepository,
    QueryRepository,
)

log = logging.getLogger(__name__)

HELPFUL = 1
NOT_HELPFUL = -1


class FeedbackOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    # A button whose query does not exist or belongs to someone else: forged or stale.
    UNKNOWN_QUERY = "unknown_query"
    UNKNOWN_ARTICLE = "unknown_article"


class Learning(StrEnum):
    """What a confirmation (a 👍 or a picked suggestion) did to the article's phrasings."""

    # The question is now a phrasing of the article, served from the next question on.
    LEARNED = "learned"
    # It is a phrasing waiting for an admin's approval (auto-learning is off).
    PENDING = "pending"
    # Fewer distinct people than required have confirmed it so far.
    WAITING = "waiting"
    # The article already has this phrasing, or the question is not worth keeping.
    NOTHING = "nothing"


# A question longer than this is a story, not a phrasing: it is kept as a click, not learned.
MAX_LEARNED_CHARS = 300


class FeedbackService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._queries = QueryRepository(session)
        self._articles = ArticleRepository(session)
        self._feedback = FeedbackRepository(session)

    async def record(
        self, *, query_id: int, user_id: int | None, article_id: int | None, label: int
    ) -> FeedbackOutcome:
        """Store one click. `article_id` None with label -1 means "none of these fit"."""
        if label not in (HELPFUL, NOT_HELPFUL) or (article_id is None and label != NOT_HELPFUL):
            return FeedbackOutcome.UNKNOWN_ARTICLE
        query = await self._queries.get(query_id)
        if query is None or (user_id is not None and query.user_id not in (None, user_id)):
            return FeedbackOutcome.UNKNOWN_QUERY
        if article_id is not None and await self._articles.get(article_id) is None:
            return FeedbackOutcome.UNKNOWN_ARTICLE
        offered = await self._queries.offers(query_id)
        if article_id is not None and offered is not None and article_id not in offered:
            # Only what the bot showed for this question can be confirmed or rejected: a
            # button naming another article is forged, and would poison the training pairs.
            log.warning(
                "query %d: refused a click on article %s, never offered", query_id, article_id
            )
            return FeedbackOutcome.UNKNOWN_ARTICLE
        stored = await self._feedback.add(
            query_id=query_id, article_id=article_id, label=label, user_id=user_id
        )
        # Ended here in either case: kept even if acknowledging the click to Telegram fails
        # afterwards, and no write lock is held while the handler waits on Telegram.
        await self._session.commit()
        if stored is None:
            return FeedbackOutcome.ALREADY_RECORDED
        log.info("query %d: feedback %+d for article %s", query_id, label, article_id)
        return FeedbackOutcome.RECORDED

    async def learn(
        self, query_id: int, article_id: int, *, min_confirmations: int = 1, auto: bool = True
    ) -> Learning:
        """After a 👍 or a pick was recorded: make the question a learned phrasing of the article
        once `min_confirmations` distinct people confirmed it (the same words, in any case and
        spacing); with `auto` off it waits for an admin."""
        query = await self._queries.get(query_id)
        article = await self._articles.get(article_id)
        if query is None or article is None or article.archived:
            return Learning.NOTHING
        offered = await self._queries.offers(query_id)
        if offered is None or article_id not in offered:
            # A question from before the offers were kept: its click counts for training, but
            # nothing proves the bot showed that article, so it teaches nothing.
            return Learning.NOTHING
        text = query.text.strip()
        if not text or len(text) > MAX_LEARNED_CHARS:
            return Learning.NOTHING
        key = question_key(text)
        if any(question_key(p.text) == key for p in await self._articles.phrasings_of(article_id)):
            return Learning.NOTHING
        people = (
            {query.user_id}  # this click is the one confirmation needed
            if min_confirmations <= 1
            else {
                person
                for asked, person in await self._feedback.confirmations(article_id)
                if question_key(asked) == key
            }
        )
        if len(people) < min_confirmations:
            log.info(
                "query %d: confirmed for article %d by %d of %d people needed",
                query_id,
                article_id,
                len(people),
                min_confirmations,
            )
            return Learning.WAITING
        source = FEEDBACK_SOURCE if auto else PENDING_SOURCE
        try:
            added = await self._articles.add_phrasing(article_id, text, source)
            await self._session.commit()
        except Exception:
            # The click is committed already; leave the session usable for what follows.
            await self._session.rollback()
            raise
        if not added:  # someone else's confirmation taught it a moment ago
            return Learning.NOTHING
        log.info("query %d: learned as a phrasing of article %d (%s)", query_id, article_id, source)
        return Learning.LEARNED if auto else Learning.PENDING

    async def question_of(self, query_id: int) -> str | None:
        """The text of a query, to tell the admins what was asked."""
        query = await self._queries.get(query_id)
        return query.text if query else None
