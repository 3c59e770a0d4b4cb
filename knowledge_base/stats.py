"""The numbers admins watch: questions per day by band, helpfulness, the top articles."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.storage.tables import ArticleRow, FeedbackRow, QueryRow

BANDS = ("answer", "suggest", "nothing")


@dataclass(frozen=True)
class DayCounts:
    day: date
    by_band: dict[str, int]
    helpful: int
    not_helpful: int

    @property
    def total(self) -> int:
        return sum(self.by_band.values())


@dataclass(frozen=True)
class Stats:
    days: list[DayCounts]
    top_articles: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(d.total for d in self.days)

    def band_share(self, band: str) -> float:
        return sum(d.by_band[band] for d in self.days) / self.total if self.total else 0.0

    @property
    def helpful(self) -> int:
        return sum(d.helpful for d in self.days)

    @property
    def not_helpful(self) -> int:
        return sum(d.not_helpful for d in self.days)

    @property
    def helpful_rate(self) -> float | None:
        votes = self.helpful + self.not_helpful
        return self.helpful / votes if votes else None


async def collect(session: AsyncSession, days: int, now: datetime | None = None) -> Stats:
    """The last `days` days (today included), day by day in UTC."""
    now = now or datetime.now(UTC)
    first = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    per_day: dict[date, Counter[str]] = {first + timedelta(n): Counter() for n in range(days)}
    votes: dict[date, Counter[int]] = {day: Counter() for day in per_day}
    rows = await session.execute(
        select(QueryRow.created_at, QueryRow.band).where(QueryRow.created_at >= since)
    )
    for created, band in rows:
        per_day.setdefault(_day(created), Counter())[band] += 1
    clicks = await session.execute(
        select(FeedbackRow.created_at, FeedbackRow.label).where(
            FeedbackRow.created_at >= since, FeedbackRow.article_id.is_not(None)
        )
    )
    for created, label in clicks:
        votes.setdefault(_day(created), Counter())[label] += 1
    answered = func.count(QueryRow.id)
    top = await session.execute(
        select(ArticleRow.title, answered)
        .join(QueryRow, QueryRow.article_id == ArticleRow.id)
        .where(QueryRow.created_at >= since, QueryRow.band == "answer")
        .group_by(ArticleRow.title)
        .order_by(answered.desc(), ArticleRow.title)
        .limit(5)
    )
    return Stats(
        [
            DayCounts(
                day,
                {band: per_day[day][band] for band in BANDS},
                votes.get(day, Counter())[1],
                votes.get(day, Counter())[-1],
            )
            for day in sorted(per_day)
        ],
        [(title, int(count)) for title, count in top],
    )


def _day(moment: datetime) -> date:
    # SQLite hands back naive datetimes; they were written in UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
