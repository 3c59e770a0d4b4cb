"""Article use cases: import a file in short transactions, export, and the admins' edits, each
one transaction with its audit record."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from html.parser import HTMLParser

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.audit import Actor
from knowledge_base.search.lexical import LexicalIndex
from knowledge_base.storage.articles import ArticleRepository, changes_article
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.engine import read_only
from knowledge_base.types import (
    Article,
    ArticleDraft,
    AuditAction,
    ImportOutcome,
    Phrasing,
    PhrasingSource,
    audit_body,
)

log = logging.getLogger(__name__)

# Articles written per transaction by an import: about a tenth of a second of holding the
# database's write lock.
IMPORT_BATCH = 50
IMPORT_PAUSE_SECONDS = 0.1


class ImportChange(StrEnum):
    """What an import changes in an article that is already there (the preview says it)."""

    BODY = "body"
    QUESTIONS = "questions"
    CATEGORY = "category"
    FORMATTING = "formatting"
    RESTORED = "restored"


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int
    # The titles added and updated, in the file's order (the audit names them).
    added_titles: tuple[str, ...] = ()
    updated_titles: tuple[str, ...] = ()
    # In a preview: what changes in each of `updated_titles`, in the same order.
    changes: tuple[frozenset[ImportChange], ...] = ()


class ArticleService:
    """The base as everyone reads it, and the import that `faqbot import` and admins share."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._articles = ArticleRepository(session)

    async def import_drafts(
        self, drafts: Sequence[ArticleDraft], source: PhrasingSource = PhrasingSource.IMPORT
    ) -> ImportReport:
        """Upsert every draft by title, IMPORT_BATCH articles per transaction.

        Short transactions let a running bot store its questions and clicks between them
        (SQLite has one writer at a time). The file was validated whole before this is called,
        so a bad file changes nothing; an import cut off midway is completed by running it
        again, since an upsert of what is already there changes nothing.
        """
        outcomes: Counter[ImportOutcome] = Counter()
        titles: dict[ImportOutcome, list[str]] = {o: [] for o in ImportOutcome}
        try:
            for start in range(0, len(drafts), IMPORT_BATCH):
                if start:
                    # SQLite's busy handler polls with growing sleeps, so a writer that
                    # commits and begins again at once starves the others: leave a gap.
                    await asyncio.sleep(IMPORT_PAUSE_SECONDS)
                for draft in drafts[start : start + IMPORT_BATCH]:
                    _, outcome = await self._articles.upsert(draft, source=source)
                    outcomes[outcome] += 1
                    titles[outcome].append(draft.title)
                await self._session.commit()
        except BaseException:
            await self._session.rollback()
            raise
        return _report(outcomes, titles)

    async def preview_import(self, drafts: Sequence[ArticleDraft]) -> ImportReport:
        """What `import_drafts` would do with these drafts, without writing anything."""
        async with read_only(self._session):
            existing = {a.title: a for a in await self._articles.all(include_archived=True)}
        outcomes: Counter[ImportOutcome] = Counter()
        titles: dict[ImportOutcome, list[str]] = {o: [] for o in ImportOutcome}
        changes: list[frozenset[ImportChange]] = []
        for draft in drafts:
            article = existing.get(draft.title)
            if article is None:
                outcome = ImportOutcome.ADDED
            elif changes_article(
                draft, article.body, article.body_html, article.category, article.archived
            ) or set(draft.questions) - set(article.questions) - {article.title}:
                outcome = ImportOutcome.UPDATED
                changes.append(_changes(draft, article))
            else:
                outcome = ImportOutcome.SAME
            outcomes[outcome] += 1
            titles[outcome].append(draft.title)
        report = _report(outcomes, titles)
        return dataclasses.replace(report, changes=tuple(changes))

    async def all(self, include_archived: bool = False) -> list[Article]:
        async with read_only(self._session):
            return await self._articles.all(include_archived=include_archived)

    async def count(self, include_archived: bool = False) -> int:
        async with read_only(self._session):
            return await self._articles.count(include_archived=include_archived)

    async def categories(self) -> list[str]:
        """Categories of the active articles, largest first."""
        async with read_only(self._session):
            return await self._articles.categories()

    async def get(self, article_id: int) -> Article | None:
        async with read_only(self._session):
            return await self._articles.get(article_id)


def _report(
    outcomes: Counter[ImportOutcome], titles: dict[ImportOutcome, list[str]] | None = None
) -> ImportReport:
    titles = titles or {}
    return ImportReport(
        outcomes[ImportOutcome.ADDED],
        outcomes[ImportOutcome.UPDATED],
        outcomes[ImportOutcome.SAME],
        tuple(titles.get(ImportOutcome.ADDED, ())),
        tuple(titles.get(ImportOutcome.UPDATED, ())),
    )


def _changes(draft: ArticleDraft, article: Article) -> frozenset[ImportChange]:
    """What upserting `draft` changes in `article`, named for the preview (a file's questions
    are only ever added; a draft without formatting keeps the stored one)."""
    found: set[ImportChange] = set()
    if draft.body != article.body:
        found.add(ImportChange.BODY)
    if set(draft.questions) - set(article.questions) - {article.title}:
        found.add(ImportChange.QUESTIONS)
    if draft.category != article.category:
        found.add(ImportChange.CATEGORY)
    if draft.body_html is not None and _formatting_changed(draft, article):
        found.add(ImportChange.FORMATTING)
    if article.archived:
        found.add(ImportChange.RESTORED)
    return frozenset(found)


class _Markup(HTMLParser):
    """An article's HTML as its tags with their attributes, in order, and the text between."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, ...]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, *(f"{name}={value or ''}" for name, value in sorted(attrs))))
        self.text.append("")

    def handle_endtag(self, tag: str) -> None:
        self.tags.append((f"/{tag}",))
        self.text.append("")

    def handle_data(self, data: str) -> None:
        if self.text:
            self.text[-1] += data
        else:
            self.text.append(data)


def _formatting_changed(draft: ArticleDraft, article: Article) -> bool:
    """Whether the draft's formatting differs from the stored one, compared as structure (the
    tags and their attributes), not as an HTML string: new words inside a bold span change the
    text, not the formatting. With the text the same, the tags must also wrap the same words."""
    if draft.body_html == article.body_html:
        return False
    new = _Markup(draft.body_html or "")
    old = _Markup(article.body_html if article.body_html is not None else escape(article.body))
    if new.tags != old.tags:
        return True
    return draft.body == article.body and new.text != old.text


def by_relevance(words: str, found: Sequence[tuple[Article, Sequence[str]]]) -> list[Article]:
    """The articles found for `words`, most relevant first: a title equal to the words (case
    aside), then by the best character-3-gram TF-IDF cosine of the words with the title or a
    phrasing (the lexical channel's measure: word forms and typos still count), then by
    title."""
    texts: list[str] = []
    owner: list[int] = []
    for position, (article, phrasings) in enumerate(found):
        for text in (article.title, *phrasings):
            texts.append(text)
            owner.append(position)
    best = [0.0] * len(found)
    if texts:
        for position, score in zip(owner, LexicalIndex(texts).scores([words])[0], strict=True):
            best[position] = max(best[position], float(score))
    wanted = " ".join(words.split()).casefold()
    order = sorted(
        range(len(found)),
        key=lambda i: (found[i][0].title.casefold() != wanted, -best[i], found[i][0].title),
    )
    return [found[i][0] for i in order]


@dataclass(frozen=True)
class ArticleCard:
    """An article as an admin inspects it: phrasings with their source, and its numbers."""

    article: Article
    phrasings: list[Phrasing]
    answered: int
    helpful: int
    not_helpful: int


class ArticleEditor:
    """What admins change in articles and their phrasings: each change one transaction with
    its audit record (who, when, what, before, after), committed at the end of its method."""

    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self._session = session
        self._actor = actor
        self._articles = ArticleRepository(session)
        self._audit = AuditRepository(session)

    @property
    def allowed(self) -> bool:
        return self._actor.allowed

    async def card(self, article_id: int) -> ArticleCard | None:
        self._actor.check("view")
        async with read_only(self._session):
            article = await self._articles.get(article_id)
            if article is None:
                return None
            phrasings = await self._articles.phrasings_of(article_id)
            answered, helpful, not_helpful = await self._articles.usage(article_id)
        return ArticleCard(article, phrasings, answered, helpful, not_helpful)

    async def page(
        self,
        words: str,
        page: int,
        per_page: int,
        archived: bool = False,
        category: str | None = None,
    ) -> tuple[list[Article], int]:
        """A page of the articles holding every word (in the title, text or a phrasing), most
        relevant first (see `by_relevance`), or by title when no words are given; and how
        many match in all. `category` (exact) narrows them first."""
        self._actor.check("list")
        async with read_only(self._session):
            found = await self._articles.matching(words, archived, category)
        ranked = by_relevance(words, found) if words.strip() else [a for a, _ in found]
        start = page * per_page
        return ranked[start : start + per_page], len(ranked)

    async def categories(self, archived: bool = False) -> list[tuple[str, int]]:
        """Each category with its number of articles, largest first ("" for none)."""
        self._actor.check("list")
        async with read_only(self._session):
            return await self._articles.category_counts(archived)

    async def category_holders(self) -> list[tuple[str, int]]:
        """Each category in use, largest first, with the id of an article that has it."""
        self._actor.check("list")
        async with read_only(self._session):
            return await self._articles.category_holders()

    async def category_named(self, name: str) -> str | None:
        """The existing category (of any article) spelled `name`, case aside; None if none."""
        self._actor.check("list")
        wanted = " ".join(name.split()).casefold()
        async with read_only(self._session):
            known = [
                c
                for archived in (False, True)
                for c, _ in await self._articles.category_counts(archived)
            ]
        return next((c for c in known if c and c.casefold() == wanted), None)

    async def ties(self, article_id: int) -> tuple[int, int, int]:
        """Phrasings, 👍/👎 and logged questions pointing at the article (before deleting)."""
        self._actor.check("view")
        async with read_only(self._session):
            return await self._articles.ties(article_id)

    async def set_category(self, article_id: int, category: str) -> bool:
        """False when the article is gone; True also when the category was already this."""
        self._actor.check("edit_category")
        before = await self._articles.set_category(article_id, category)
        if before is None or before == category:
            await self._session.rollback()
            return before is not None
        await self._note(AuditAction.EDIT_CATEGORY, article_id, before, category)
        await self._session.commit()
        return True

    async def delete(self, article_id: int) -> Article | None:
        """Delete an archived article for good, with its phrasings and the votes given to it;
        the audit records it by title. None when there is no such archived article."""
        self._actor.check("delete")
        deleted = await self._articles.delete_archived(article_id)
        if deleted is None:
            await self._session.rollback()
            return None
        # The article is gone: the record names it by its title, not by a link.
        await self._audit.add(
            self._actor.id, AuditAction.DELETE, None, deleted.title, "", **self._actor.audit_name
        )
        await self._session.commit()
        log.info("admin %s: deleted article %s", self._actor.id, article_id)
        return deleted

    async def title_taken(self, title: str) -> bool:
        self._actor.check("add")
        async with read_only(self._session):
            return await self._articles.get_by_title(title) is not None

    async def create(self, draft: ArticleDraft) -> Article | None:
        """A new article from the /add dialog; None when the title is taken meanwhile."""
        self._actor.check("add")
        if await self._articles.get_by_title(draft.title) is not None:
            await self._session.rollback()
            return None
        article, _ = await self._articles.upsert(draft, source=PhrasingSource.ADMIN)
        await self._note(AuditAction.ADD, article.id, "", draft.title)
        await self._session.commit()
        return article

    async def rename(self, article_id: int, title: str) -> bool:
        """False when another article already has this title."""
        self._actor.check("edit_title")
        article = await self._articles.get(article_id)
        other = await self._articles.get_by_title(title)
        if article is None or (other is not None and other.id != article_id):
            await self._session.rollback()
            return False
        await self._articles.set_title(article_id, title)
        await self._note(AuditAction.EDIT_TITLE, article_id, article.title, title)
        await self._session.commit()
        return True

    async def rewrite(self, article_id: int, body: str, body_html: str | None = None) -> bool:
        self._actor.check("edit_body")
        article = await self._articles.get(article_id)
        if article is None:
            await self._session.rollback()
            return False
        await self._articles.set_body(article_id, body, body_html)
        # With their formatting: a change of only a link's target is a change.
        await self._note(
            AuditAction.EDIT_BODY,
            article_id,
            audit_body(article.body, article.body_html),
            audit_body(body, body_html),
        )
        await self._session.commit()
        return True

    async def archive(self, article_id: int) -> bool:
        self._actor.check("archive")
        if not await self._articles.archive(article_id):
            await self._session.rollback()
            return False
        await self._note(AuditAction.ARCHIVE, article_id, "active", "archived")
        await self._session.commit()
        return True

    async def restore(self, article_id: int) -> bool:
        self._actor.check("restore")
        if not await self._articles.restore(article_id):
            await self._session.rollback()
            return False
        await self._note(AuditAction.RESTORE, article_id, "archived", "active")
        await self._session.commit()
        return True

    async def add_phrasings(self, article_id: int, texts: Sequence[str]) -> int:
        """How many of `texts` were new phrasings of the article."""
        self._actor.check("add_phrasing")
        if await self._articles.get(article_id) is None:
            await self._session.rollback()
            return 0
        added = [
            t
            for t in dict.fromkeys(texts)
            if await self._articles.add_phrasing(article_id, t, PhrasingSource.ADMIN)
        ]
        if not added:
            await self._session.rollback()
            return 0
        await self._note(AuditAction.ADD_PHRASING, article_id, "", "\n".join(added))
        await self._session.commit()
        return len(added)

    async def delete_phrasing(self, phrasing_id: int) -> Phrasing | None:
        self._actor.check("delete_phrasing")
        deleted = await self._articles.delete_phrasing(phrasing_id)
        if deleted is None:
            await self._session.rollback()
            return None
        await self._note(AuditAction.DELETE_PHRASING, deleted.article_id, deleted.text, "")
        await self._session.commit()
        return deleted

    async def pending(self) -> list[tuple[Phrasing, str]]:
        """Confirmed questions waiting for approval (auto-learning off), with their article."""
        self._actor.check("pending")
        async with read_only(self._session):
            waiting = await self._articles.pending_phrasings()
            titles = await self._articles.titles({p.article_id for p in waiting})
        return [(p, titles[p.article_id]) for p in waiting]

    async def approve(self, phrasing_id: int) -> Phrasing | None:
        """A waiting question becomes a learned phrasing; None if it waits no more."""
        self._actor.check("approve_phrasing")
        approved = await self._articles.approve_phrasing(phrasing_id)
        if approved is None:
            await self._session.rollback()
            return None
        await self._note(AuditAction.APPROVE_PHRASING, approved.article_id, "", approved.text)
        await self._session.commit()
        return approved

    async def reject(self, phrasing_id: int) -> Phrasing | None:
        """A waiting question is rejected for good (kept, never served, never queued again
        by later clicks); None if it waits no more."""
        self._actor.check("reject_phrasing")
        rejected = await self._articles.reject_phrasing(phrasing_id)
        if rejected is None:
            await self._session.rollback()
            return None
        await self._note(AuditAction.REJECT_PHRASING, rejected.article_id, rejected.text, "")
        await self._session.commit()
        return rejected

    async def decide_all_pending(self, approve: bool, up_to: int) -> list[Phrasing]:
        """Every question waiting for approval, up to the id `up_to` (those the admin was
        counted), accepted (or rejected) in one transaction with one audit record of how many;
        [] when none of them waits any more (a second press)."""
        self._actor.check("approve_phrasing" if approve else "reject_phrasing")
        waiting = [p for p in await self._articles.pending_phrasings() if p.id <= up_to]
        decide = self._articles.approve_phrasing if approve else self._articles.reject_phrasing
        decided = [d for p in waiting if (d := await decide(p.id)) is not None]
        if not decided:
            await self._session.rollback()
            return []
        action = AuditAction.APPROVE_ALL if approve else AuditAction.REJECT_ALL
        await self._audit.add(
            self._actor.id, action, None, "", str(len(decided)), **self._actor.audit_name
        )
        await self._session.commit()
        log.info("admin %s: %s of %d phrasings", self._actor.id, action, len(decided))
        return decided

    async def import_file(self, drafts: Sequence[ArticleDraft], name: str) -> ImportReport:
        """The same import as `faqbot import` (in its short transactions), then its audit
        record."""
        self._actor.check("import")
        report = await ArticleService(self._session).import_drafts(drafts)
        summary = f"{name}: +{report.added} ~{report.updated} ={report.unchanged}"
        # The entry names the file and the articles; /audit shows them by name.
        record = {
            "file": name,
            "added": list(report.added_titles),
            "updated": list(report.updated_titles),
            "unchanged": report.unchanged,
        }
        await self._audit.add(
            self._actor.id,
            AuditAction.IMPORT,
            None,
            "",
            json.dumps(record, ensure_ascii=False),
            **self._actor.audit_name,
        )
        await self._session.commit()
        log.info("admin %s imported %s", self._actor.id, summary)
        return report

    async def _note(self, action: AuditAction, article_id: int, before: str, after: str) -> None:
        """The audit record of a change, in the change's own transaction."""
        await self._audit.add(
            self._actor.id, action, article_id, before, after, **self._actor.audit_name
        )
        log.info("admin %s: %s of article %s", self._actor.id, action, article_id)
