"""Article use cases: import a whole file at once, export, archive."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.repositories import Article, ArticleDraft, ArticleRepository


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
        """Upsert every draft by title in one transaction: all of the file or nothing."""
        outcomes: Counter[str] = Counter()
        try:
            for draft in drafts:
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
