"""Articles and their phrasings: the searchable base."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.inserts import insert_skipping_duplicates
from knowledge_base.storage.tables import ArticleRow, FeedbackRow, PhrasingRow, QueryRow, utcnow
from knowledge_base.types import (
    NOT_SERVED,
    Article,
    ArticleDraft,
    Band,
    ImportOutcome,
    Label,
    Phrasing,
    PhrasingSource,
)


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

    async def upsert(
        self, draft: ArticleDraft, source: PhrasingSource = PhrasingSource.IMPORT
    ) -> tuple[Article, ImportOutcome]:
        """Create or update the article titled `draft.title`; returns it and added/updated/same.

        Phrasings are only ever added here: learned ones must survive a re-import.
        """
        row = await self._session.scalar(select(ArticleRow).where(ArticleRow.title == draft.title))
        outcome = ImportOutcome.SAME
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
            self._session.add(
                PhrasingRow(article_id=row.id, text=draft.title, source=PhrasingSource.TITLE)
            )
            outcome = ImportOutcome.ADDED
        elif changes_article(draft, row.body, row.body_html, row.category, row.archived):
            if draft.body_html is not None or draft.body != row.body:
                # A plain draft with a new text: the old formatting would not match it.
                row.body_html = draft.body_html
            row.body, row.category, row.archived = draft.body, draft.category, False
            outcome = ImportOutcome.UPDATED
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
                if outcome is ImportOutcome.SAME:
                    outcome = ImportOutcome.UPDATED
        await self._session.flush()
        return await self._to_article(row), outcome

    async def add_phrasing(self, article_id: int, text: str, source: PhrasingSource) -> bool:
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
                PhrasingRow.article_id == article_id, PhrasingRow.source == PhrasingSource.TITLE
            )
        )
        row.title = title
        self._session.add(
            PhrasingRow(article_id=article_id, text=title, source=PhrasingSource.TITLE)
        )
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
        return [_phrasing(r) for r in rows]

    async def pending_phrasings(self) -> list[Phrasing]:
        """Learned phrasings waiting for an admin, of articles still served, oldest first."""
        rows = await self._session.execute(
            select(PhrasingRow.id, PhrasingRow.article_id, PhrasingRow.text, PhrasingRow.source)
            .join(ArticleRow, ArticleRow.id == PhrasingRow.article_id)
            .where(ArticleRow.archived.is_(False), PhrasingRow.source == PhrasingSource.PENDING)
            .order_by(PhrasingRow.id)
        )
        return [_phrasing(r) for r in rows]

    async def approve_phrasing(self, phrasing_id: int) -> Phrasing | None:
        """A pending phrasing becomes a learned one; None if it is not pending (any more)."""
        row = await self._session.get(PhrasingRow, phrasing_id)
        if row is None or row.source != PhrasingSource.PENDING:
            return None
        # A new time: the index's fingerprint sees the phrasing arrive.
        row.source, row.created_at = PhrasingSource.FEEDBACK, utcnow()
        await self._session.flush()
        return _phrasing(row)

    async def reject_phrasing(self, phrasing_id: int) -> Phrasing | None:
        """A pending phrasing is marked rejected; None if it is not pending (any more)."""
        row = await self._session.get(PhrasingRow, phrasing_id)
        if row is None or row.source != PhrasingSource.PENDING:
            return None
        row.source = PhrasingSource.REJECTED
        await self._session.flush()
        return _phrasing(row)

    async def delete_phrasing(self, phrasing_id: int) -> Phrasing | None:
        """Delete one phrasing (never the title's); what was deleted, or None."""
        row = await self._session.get(PhrasingRow, phrasing_id)
        if row is None or row.source == PhrasingSource.TITLE:
            return None
        deleted = _phrasing(row)
        await self._session.delete(row)
        await self._session.flush()
        return deleted

    async def matching(
        self, words: str, archived: bool = False, category: str | None = None
    ) -> list[tuple[Article, list[str]]]:
        """Articles (by title) whose title, text or a served phrasing contains every word,
        each with its served phrasings; `category` (exact) narrows them first. Matched in
        Python: SQLite's lower() knows only ASCII letters."""
        query = select(ArticleRow).where(ArticleRow.archived.is_(archived))
        if category is not None:
            query = query.where(ArticleRow.category == category)
        rows = (await self._session.scalars(query.order_by(ArticleRow.title))).all()
        served = await self._session.execute(
            select(PhrasingRow.article_id, PhrasingRow.text)
            .where(
                PhrasingRow.article_id.in_([r.id for r in rows]),
                PhrasingRow.source.not_in((PhrasingSource.TITLE, *NOT_SERVED)),
            )
            .order_by(PhrasingRow.id)
        )
        phrasings: dict[int, list[str]] = {}
        for article_id, text in served:
            phrasings.setdefault(article_id, []).append(text)
        wanted = words.casefold().split()
        found = []
        for row in rows:
            own = phrasings.get(row.id, [])
            haystack = "\n".join((row.title, row.body, *own)).casefold()
            if all(w in haystack for w in wanted):
                found.append((_article(row, ()), own))
        return found

    async def category_counts(self, archived: bool = False) -> list[tuple[str, int]]:
        """Each category with its number of articles, largest first; "" for those without."""
        count = func.count(ArticleRow.id)
        rows = await self._session.execute(
            select(ArticleRow.category, count)
            .where(ArticleRow.archived.is_(archived))
            .group_by(ArticleRow.category)
            .order_by(count.desc(), ArticleRow.category)
        )
        return [(category, int(n)) for category, n in rows.all()]

    async def category_holders(self) -> list[tuple[str, int]]:
        """Each category in use (archived articles too), largest first, with the id of an
        article that has it."""
        count = func.count(ArticleRow.id)
        rows = await self._session.execute(
            select(ArticleRow.category, func.min(ArticleRow.id))
            .where(ArticleRow.category != "")
            .group_by(ArticleRow.category)
            .order_by(count.desc(), ArticleRow.category)
        )
        return [(category, int(holder)) for category, holder in rows.all()]

    async def set_category(self, article_id: int, category: str) -> str | None:
        """The category it had, or None if there is no such article."""
        row = await self._session.get(ArticleRow, article_id)
        if row is None:
            return None
        before, row.category = row.category, category
        await self._session.flush()
        return before

    async def ties(self, article_id: int) -> tuple[int, int, int]:
        """What points at the article: its phrasings, the 👍/👎 given to it, and the logged
        questions it answered or was offered for."""
        phrasings = await self._session.scalar(
            select(func.count(PhrasingRow.id)).where(PhrasingRow.article_id == article_id)
        )
        votes = await self._session.scalar(
            select(func.count(FeedbackRow.id)).where(FeedbackRow.article_id == article_id)
        )
        questions = await self._session.scalar(
            select(func.count(QueryRow.id)).where(QueryRow.article_id == article_id)
        )
        return int(phrasings or 0), int(votes or 0), int(questions or 0)

    async def delete_archived(self, article_id: int) -> Article | None:
        """Delete an archived article for good; what was deleted, or None (no such article, or
        not archived). Its phrasings (and their vectors) and the offers naming it go with it;
        the 👍/👎 given to it are deleted too, because a vote with no article would read as
        «Нет подходящего» (label -1 has a NULL article) and would reopen its question in the
        inbox; the logged questions and the audit trail stay, their link set to NULL by the
        foreign keys (ON DELETE SET NULL)."""
        row = await self._session.get(ArticleRow, article_id)
        if row is None or not row.archived:
            return None
        deleted = _article(row, ())
        await self._session.execute(delete(FeedbackRow).where(FeedbackRow.article_id == article_id))
        await self._session.execute(delete(ArticleRow).where(ArticleRow.id == article_id))
        await self._session.flush()
        return deleted

    async def usage(self, article_id: int) -> tuple[int, int, int]:
        """Questions answered with the article, and its 👍 and 👎."""
        answered = await self._session.scalar(
            select(func.count(QueryRow.id)).where(
                QueryRow.article_id == article_id, QueryRow.band == Band.ANSWER
            )
        )
        rows = await self._session.execute(
            select(FeedbackRow.label, func.count(FeedbackRow.id))
            .where(FeedbackRow.article_id == article_id)
            .group_by(FeedbackRow.label)
        )
        votes = {int(label): int(count) for label, count in rows.all()}
        return (
            int(answered or 0),
            votes.get(Label.HELPFUL, 0),
            votes.get(Label.NOT_HELPFUL, 0),
        )

    async def active_phrasings(self) -> list[Phrasing]:
        rows = await self._session.execute(
            select(PhrasingRow.id, PhrasingRow.article_id, PhrasingRow.text, PhrasingRow.source)
            .join(ArticleRow, ArticleRow.id == PhrasingRow.article_id)
            .where(ArticleRow.archived.is_(False), PhrasingRow.source.not_in(NOT_SERVED))
            .order_by(PhrasingRow.article_id, PhrasingRow.id)
        )
        return [_phrasing(r) for r in rows]

    async def _questions_of(self, article_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        if not article_ids:
            return {}
        rows = await self._session.execute(
            select(PhrasingRow.article_id, PhrasingRow.text)
            .where(
                PhrasingRow.article_id.in_(article_ids),
                PhrasingRow.source.not_in((PhrasingSource.TITLE, *NOT_SERVED)),
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


def changes_article(
    draft: ArticleDraft, body: str, body_html: str | None, category: str, archived: bool
) -> bool:
    """Whether upserting `draft` changes the stored article's text, formatting, category or
    archiving. A plain draft (a file without `format`) with the stored text keeps the
    formatting; a draft with formatting must match it too."""
    same_html = draft.body_html is None or draft.body_html == body_html
    return (body, category, archived) != (draft.body, draft.category, False) or not same_html


def _article(row: ArticleRow, questions: tuple[str, ...]) -> Article:
    return Article(
        row.id, row.title, row.body, row.category, row.archived, questions, row.body_html
    )


def _phrasing(row: Any) -> Phrasing:
    return Phrasing(row.id, row.article_id, row.text, PhrasingSource(row.source))
