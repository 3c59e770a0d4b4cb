"""Article use cases: import a file in short transactions, export, archive."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.repositories import Article, ArticleDraft, ArticleRepository

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

    async def all(self, include_archived: bool = False) -> list[Article]:
        return await self._articles.all(include_archived=include_archived)

    async def count(self, include_archived: bool = False) -> int:
        return await self._articles.count(include_archived=include_archived)

    async def categories(self) -> list[str]:
        """Categories of the active articles, largest first."""
        return await self._articles.categories()

    async def get(self, article_id: int) -> Article | None:
        return await self._articles.get(article_id)
