"""Learned phrasings for the /learned tests: queued for an admin straight in the database, as
the bot queues a confirmed question when it does not learn on its own, and read back."""

from __future__ import annotations

from sqlalchemy import select

from knowledge_base.storage.tables import ArticleRow, AuditRow, PhrasingRow
from knowledge_base.types import PhrasingSource
from tests.fakes.harness import BotHarness


async def queue_for_approval(bot: BotHarness, phrasings: list[tuple[str, str]]) -> None:
    """Queue each (question, article title) for an admin's approval, in this order."""
    async with bot.session_factory() as session:
        for text, title in phrasings:
            session.add(
                PhrasingRow(
                    article_id=await bot.article_id(title),
                    text=text,
                    source=PhrasingSource.PENDING,
                )
            )
            await session.flush()  # ids in this order: /learned shows the oldest first
        await session.commit()


async def learned_by_source(bot: BotHarness) -> dict[str, set[tuple[str, str]]]:
    """The learned phrasings (waiting, served or rejected) by source: {(text, title)}."""
    found: dict[str, set[tuple[str, str]]] = {}
    async with bot.session_factory() as session:
        rows = await session.execute(
            select(PhrasingRow.source, PhrasingRow.text, ArticleRow.title)
            .join(ArticleRow, ArticleRow.id == PhrasingRow.article_id)
            .where(
                PhrasingRow.source.in_(
                    (PhrasingSource.PENDING, PhrasingSource.FEEDBACK, PhrasingSource.REJECTED)
                )
            )
        )
        for source, text, title in rows:
            found.setdefault(source, set()).add((text, title))
    return found


async def audit_actions(bot: BotHarness) -> list[tuple[str, int | None, str]]:
    """The audit trail, oldest first: action, article id, after."""
    async with bot.session_factory() as session:
        rows = await session.execute(
            select(AuditRow.action, AuditRow.article_id, AuditRow.after).order_by(AuditRow.id)
        )
        return [(action, article_id, after) for action, article_id, after in rows]
