"""Article use cases: import a file in short transactions, export, and the admins' edits
with their audit record."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.inbox import OpenQuestion, open_questions
from knowledge_base.stats import Stats, collect
from knowledge_base.storage.repositories import (
    Article,
    ArticleDraft,
    ArticleRepository,
    AuditEntry,
    AuditRepository,
    Phrasing,
    QueryRepository,
)
from knowledge_base.storage.tables import InboxResolutionRow
from knowledge_base.training.registry import ModelRegistry, metrics_of

log = logging.getLogger(__name__)

# Articles written per transaction by an import: about a tenth of a second of holding the
# database's write lock.
IMPORT_BATCH = 50
IMPORT_PAUSE_SECONDS = 0.1


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int


class ArticleService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._articles = ArticleRepository(session)

    async def import_drafts(
        self, drafts: Sequence[ArticleDraft], source: str = "import"
    ) -> ImportReport:
        """Upsert every draft by title, IMPORT_BATCH articles per transaction.

        Short transactions let a running bot store its questions and clicks between them
        (SQLite has one writer at a time). The file was validated whole before this is called,
        so a bad file changes nothing; an import cut off midway is completed by running it
        again, since an upsert of what is already there changes nothing.
        """
        outcomes: Counter[str] = Counter()
        try:
            for start in range(0, len(drafts), IMPORT_BATCH):
                if start:
                    # SQLite's busy handler polls with growing sleeps, so a writer that
                    # commits and begins again at once starves the others: leave a gap.
                    await asyncio.sleep(IMPORT_PAUSE_SECONDS)
                for draft in drafts[start : start + IMPORT_BATCH]:
                    _, outcome = await self._articles.upsert(draft, source=source)
                    outcomes[outcome] += 1
                await self._session.commit()
        except BaseException:
            await self._session.rollback()
            raise
        return ImportReport(outcomes["added"], outcomes["updated"], outcomes["same"])

    async def preview_import(self, drafts: Sequence[ArticleDraft]) -> ImportReport:
        """What `import_drafts` would do with these drafts, without writing anything."""
        existing = {a.title: a for a in await self._articles.all(include_archived=True)}
        await self._session.commit()
        outcomes: Counter[str] = Counter()
        for draft in drafts:
            article = existing.get(draft.title)
            if article is None:
                outcomes["added"] += 1
            elif (article.body, article.category, article.archived) != (
                draft.body,
                draft.category,
                False,
            ) or set(draft.questions) - set(article.questions) - {article.title}:
                outcomes["updated"] += 1
            else:
                outcomes["same"] += 1
        return ImportReport(outcomes["added"], outcomes["updated"], outcomes["same"])

    async def all(self, include_archived: bool = False) -> list[Article]:
        return await self._articles.all(include_archived=include_archived)

    async def count(self, include_archived: bool = False) -> int:
        return await self._articles.count(include_archived=include_archived)

    async def categories(self) -> list[str]:
        """Categories of the active articles, largest first."""
        return await self._articles.categories()

    async def get(self, article_id: int) -> Article | None:
        return await self._articles.get(article_id)


class NotAllowed(PermissionError):
    """Someone who is not an admin tried to change the base."""


@dataclass(frozen=True)
class ArticleCard:
    """An article as an admin inspects it: phrasings with their source, and its numbers."""

    article: Article
    phrasings: list[Phrasing]
    answered: int
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class ModelOverview:
    name: str
    since: datetime | None
    before: dict[str, float] | None
    after: dict[str, float] | None
    held_out: int | None
    # Other versions, newest first: (name, status, created).
    earlier: list[tuple[str, str, datetime]]
    can_roll_back: bool


class ArticleEditor:
    """What admins change in the base: each change in its own transaction, with its audit
    record (who, when, what, before, after). Checks the actor itself, whatever the caller
    checked before: a write by anyone not in `admins` is refused and logged."""

    def __init__(self, session: AsyncSession, actor: int, admins: frozenset[int]) -> None:
        self._session = session
        self._actor = actor
        self._admins = admins
        self._articles = ArticleRepository(session)
        self._audit = AuditRepository(session)

    @property
    def allowed(self) -> bool:
        return self._actor in self._admins

    def _check(self, action: str) -> None:
        if not self.allowed:
            log.warning("refused: %s by %s, who is not an admin", action, self._actor)
            raise NotAllowed(action)

    async def card(self, article_id: int) -> ArticleCard | None:
        self._check("view")
        article = await self._articles.get(article_id)
        if article is None:
            return None
        phrasings = await self._articles.phrasings_of(article_id)
        answered, helpful, not_helpful = await self._articles.usage(article_id)
        await self._session.commit()  # end the read: nothing is held while Telegram answers
        return ArticleCard(article, phrasings, answered, helpful, not_helpful)

    async def page(
        self, words: str, page: int, per_page: int, archived: bool = False
    ) -> tuple[list[Article], int]:
        self._check("list")
        found = await self._articles.page(words, page * per_page, per_page, archived)
        await self._session.commit()
        return found

    async def create(self, draft: ArticleDraft) -> Article | None:
        """A new article from the /add dialog; None when the title is taken meanwhile."""
        self._check("add")
        if await self._articles.get_by_title(draft.title) is not None:
            await self._session.rollback()
            return None
        article, _ = await self._articles.upsert(draft, source="admin")
        await self._record("add", article.id, "", draft.title)
        return article

    async def title_taken(self, title: str) -> bool:
        self._check("add")
        taken = await self._articles.get_by_title(title) is not None
        await self._session.commit()
        return taken

    async def rename(self, article_id: int, title: str) -> bool:
        """False when another article already has this title."""
        self._check("edit_title")
        article = await self._articles.get(article_id)
        other = await self._articles.get_by_title(title)
        if article is None or (other is not None and other.id != article_id):
            await self._session.rollback()
            return False
        await self._articles.set_title(article_id, title)
        await self._record("edit_title", article_id, article.title, title)
        return True

    async def rewrite(self, article_id: int, body: str, body_html: str | None = None) -> bool:
        self._check("edit_body")
        article = await self._articles.get(article_id)
        if article is None:
            await self._session.rollback()
            return False
        await self._articles.set_body(article_id, body, body_html)
        await self._record("edit_body", article_id, article.body, body)
        return True

    async def archive(self, article_id: int) -> bool:
        self._check("archive")
        if not await self._articles.archive(article_id):
            await self._session.rollback()
            return False
        await self._record("archive", article_id, "active", "archived")
        return True

    async def restore(self, article_id: int) -> bool:
        self._check("restore")
        if not await self._articles.restore(article_id):
            await self._session.rollback()
            return False
        await self._record("restore", article_id, "archived", "active")
        return True

    async def add_phrasings(self, article_id: int, texts: Sequence[str]) -> int:
        """How many of `texts` were new phrasings of the article."""
        self._check("add_phrasing")
        if await self._articles.get(article_id) is None:
            await self._session.rollback()
            return 0
        added = [
            t
            for t in dict.fromkeys(texts)
            if await self._articles.add_phrasing(article_id, t, "admin")
        ]
        if added:
            await self._record("add_phrasing", article_id, "", "\n".join(added))
        else:
            await self._session.rollback()
        return len(added)

    async def delete_phrasing(self, phrasing_id: int) -> Phrasing | None:
        self._check("delete_phrasing")
        deleted = await self._articles.delete_phrasing(phrasing_id)
        if deleted is None:
            await self._session.rollback()
            return None
        await self._record("delete_phrasing", deleted.article_id, deleted.text, "")
        return deleted

    async def pending(self) -> list[tuple[Phrasing, str]]:
        """Confirmed questions waiting for approval (auto-learning off), with their article."""
        self._check("pending")
        waiting = await self._articles.pending_phrasings()
        titles = await self._articles.titles({p.article_id for p in waiting})
        await self._session.commit()
        return [(p, titles[p.article_id]) for p in waiting]

    async def approve(self, phrasing_id: int) -> Phrasing | None:
        """A waiting question becomes a learned phrasing; None if it waits no more."""
        self._check("approve_phrasing")
        approved = await self._articles.approve_phrasing(phrasing_id)
        if approved is None:
            await self._session.rollback()
            return None
        await self._record("approve_phrasing", approved.article_id, "", approved.text)
        return approved

    async def reject(self, phrasing_id: int) -> Phrasing | None:
        """A waiting question is rejected for good (kept, never served, never queued again
        by later clicks); None if it waits no more."""
        self._check("reject_phrasing")
        rejected = await self._articles.reject_phrasing(phrasing_id)
        if rejected is None:
            await self._session.rollback()
            return None
        await self._record("reject_phrasing", rejected.article_id, rejected.text, "")
        return rejected

    async def import_file(self, drafts: Sequence[ArticleDraft], name: str) -> ImportReport:
        """The same import as `faqbot import`, recorded in the audit log."""
        self._check("import")
        report = await ArticleService(self._session).import_drafts(drafts)
        summary = f"{name}: +{report.added} ~{report.updated} ={report.unchanged}"
        await self._audit.add(self._actor, "import", None, "", summary)
        await self._session.commit()
        log.info("admin %s imported %s", self._actor, summary)
        return report

    async def model_overview(self, models_dir: Path, configured: str) -> ModelOverview:
        """The model that answers, its numbers, and the versions before it."""
        self._check("model")
        registry = ModelRegistry(self._session, models_dir)
        active = await registry.active_model(configured)
        versions = await registry.all()
        await self._session.commit()
        current = next((v for v in versions if v.name == active.name), None)
        metrics = metrics_of(current) if current else {}
        earlier = sorted(versions, key=lambda v: v.created_at, reverse=True)
        return ModelOverview(
            name=active.name,
            since=current.activated_at if current else None,
            before=metrics.get("before"),
            after=metrics.get("after"),
            held_out=metrics.get("data", {}).get("held_out"),
            earlier=[(v.name, v.status, v.created_at) for v in earlier if v.name != active.name],
            can_roll_back=current is not None and any(v.status == "previous" for v in versions),
        )

    async def rollback_model(self, models_dir: Path) -> tuple[str, str]:
        """Back to the version that answered before; (left, now active). RegistryError when
        there is none."""
        self._check("rollback")
        left, active = await ModelRegistry(self._session, models_dir).rollback()
        await self._audit.add(self._actor, "rollback", None, left.name, active.name)
        await self._session.commit()
        log.info(
            "admin %s rolled the model back from %s to %s", self._actor, left.name, active.name
        )
        return left.name, active.name

    async def stats(self, days: int) -> Stats:
        self._check("stats")
        found = await collect(self._session, days)
        await self._session.commit()
        return found

    async def inbox(self) -> list[OpenQuestion]:
        self._check("inbox")
        questions = await open_questions(self._session)
        await self._session.commit()
        return questions

    async def attach(
        self, query_ids: Sequence[int], article_id: int
    ) -> tuple[int, list[tuple[int, int, str]]]:
        """The group's questions become phrasings of the article and leave the inbox: how
        many did, and the people to tell, one question each: (user, query, question)."""
        self._check("attach")
        article = await self._articles.get(article_id)
        if article is None or article.archived:
            await self._session.rollback()
            return 0, []
        queries = QueryRepository(self._session)
        told: dict[int, tuple[int, int, str]] = {}
        texts: list[str] = []
        for query_id in query_ids:
            record = await queries.get(query_id)
            if record is None or not await self._resolve(query_id, "attached", article_id):
                continue
            await self._articles.add_phrasing(article_id, record.text, "feedback")
            # Offered now: the person may rate it when it reaches them.
            await queries.add_offers(query_id, [article_id])
            texts.append(record.text)
            if record.user_id is not None and record.user_id not in told:
                told[record.user_id] = (record.user_id, query_id, record.text)
        if not texts:
            await self._session.rollback()
            return 0, []
        await self._record("attach", article_id, "", "\n".join(texts))
        return len(texts), list(told.values())

    async def dismiss(self, query_ids: Sequence[int]) -> int:
        """Close questions as out of scope; how many were still open."""
        self._check("dismiss")
        closed = [q for q in query_ids if await self._resolve(q, "dismissed", None)]
        if not closed:
            await self._session.rollback()
            return 0
        await self._audit.add(self._actor, "dismiss", None, "", f"{len(closed)}")
        await self._session.commit()
        return len(closed)

    async def _resolve(self, query_id: int, status: str, article_id: int | None) -> bool:
        """Take a question out of the inbox; False if it already was."""
        if await self._session.get(InboxResolutionRow, query_id) is not None:
            return False
        self._session.add(
            InboxResolutionRow(
                query_id=query_id, status=status, article_id=article_id, actor_id=self._actor
            )
        )
        await self._session.flush()
        return True

    async def latest_changes(self, limit: int) -> list[AuditEntry]:
        self._check("audit")
        entries = await self._audit.latest(limit)
        await self._session.commit()
        return entries

    async def _record(self, action: str, article_id: int, before: str, after: str) -> None:
        await self._audit.add(self._actor, action, article_id, before, after)
        await self._session.commit()
        log.info("admin %s: %s of article %s", self._actor, action, article_id)
