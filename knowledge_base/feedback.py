"""Records what users click under an answer: the (question, article, label) training pairs."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.search.questions import question_key
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.engine import read_only
from knowledge_base.storage.faults import DEFAULT_RETRY_SECONDS, write_retrying
from knowledge_base.storage.feedback import FeedbackRepository
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import FeedbackOutcome, Label, Learning, PhrasingSource

log = logging.getLogger(__name__)

# A question longer than this is a story, not a phrasing: it is kept as a click, not learned.
MAX_LEARNED_CHARS = 300


class FeedbackService:
    """Clicks and what they teach. A write the database refuses for a while (a lock, a full
    disk) is retried for up to `write_retry_seconds`, then fails with StoreUnavailable: the
    update is handled again later, and no click is lost."""

    def __init__(
        self, session: AsyncSession, write_retry_seconds: float = DEFAULT_RETRY_SECONDS
    ) -> None:
        self._session = session
        self._write_retry_seconds = write_retry_seconds
        self._queries = QueryRepository(session)
        self._articles = ArticleRepository(session)
        self._feedback = FeedbackRepository(session)

    async def record(
        self, *, query_id: int, user_id: int | None, article_id: int | None, label: int
    ) -> FeedbackOutcome:
        """Store one click. `article_id` None with label -1 means "none of these fit"."""
        return await write_retrying(
            lambda: self._record_once(query_id, user_id, article_id, label),
            self._write_retry_seconds,
        )

    async def _record_once(
        self, query_id: int, user_id: int | None, article_id: int | None, label: int
    ) -> FeedbackOutcome:
        try:
            refused = await self._refusal(query_id, user_id, article_id, label)
            if refused is not None:
                await self._session.rollback()  # a refused click ends its read, writing nothing
                return refused
            stored = await self._feedback.add(
                query_id=query_id, article_id=article_id, label=Label(label), user_id=user_id
            )
            # Ended here in either case: kept even if acknowledging the click to Telegram fails
            # afterwards, and no write lock is held while the handler waits on Telegram.
            await self._session.commit()
        except BaseException:
            await self._session.rollback()
            raise
        if stored is None:
            return FeedbackOutcome.ALREADY_RECORDED
        log.info("query %d: feedback %+d for article %s", query_id, label, article_id)
        return FeedbackOutcome.RECORDED

    async def _refusal(
        self, query_id: int, user_id: int | None, article_id: int | None, label: int
    ) -> FeedbackOutcome | None:
        """Why a click cannot be stored, or None when it can."""
        if label not in tuple(Label) or (article_id is None and label != Label.NOT_HELPFUL):
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
        return None

    async def learn(
        self, query_id: int, article_id: int, *, min_confirmations: int = 1, auto: bool = True
    ) -> Learning:
        """After a 👍 or a pick was recorded: make the question a learned phrasing of the article
        once `min_confirmations` distinct people confirmed it (the same words, in any case and
        spacing); with `auto` off it waits for an admin."""
        source = PhrasingSource.FEEDBACK if auto else PhrasingSource.PENDING
        outcome = await write_retrying(
            lambda: self._learn_once(query_id, article_id, min_confirmations, source),
            self._write_retry_seconds,
        )
        if isinstance(outcome, Learning):
            return outcome
        added = outcome
        if not added:  # someone else's confirmation taught it a moment ago
            return Learning.NOTHING
        log.info("query %d: learned as a phrasing of article %d (%s)", query_id, article_id, source)
        return Learning.LEARNED if auto else Learning.PENDING

    async def _learn_once(
        self, query_id: int, article_id: int, min_confirmations: int, source: PhrasingSource
    ) -> bool | Learning:
        """The question added as a phrasing (False: someone else's confirmation taught it a
        moment ago), or why nothing is to be learned (yet)."""
        try:
            text = await self._worth_learning(query_id, article_id, min_confirmations)
            if isinstance(text, Learning):
                await self._session.rollback()  # nothing to learn: the read ends here
                return text
            added = await self._articles.add_phrasing(article_id, text, source)
            await self._session.commit()
        except BaseException:
            # The click is committed already; leave the session usable for what follows.
            await self._session.rollback()
            raise
        return added

    async def _worth_learning(
        self, query_id: int, article_id: int, min_confirmations: int
    ) -> str | Learning:
        """The question to learn for the article, or why there is none to learn (yet)."""
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
        return text

    async def question_of(self, query_id: int) -> str | None:
        """The text of a query, to tell the admins what was asked."""
        async with read_only(self._session):
            query = await self._queries.get(query_id)
        return query.text if query else None
