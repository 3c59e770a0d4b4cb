"""The numbers admins watch: questions per day by band, helpfulness, the top articles."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.audit import Actor
from knowledge_base.storage.engine import read_only
from knowledge_base.storage.stats import StatsRepository
from knowledge_base.types import Band, Label

# The most answered articles /stats lists.
TOP_ARTICLES = 5


@dataclass(frozen=True)
class DayCounts:
    day: date
    by_band: dict[Band, int]
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

    def band_share(self, band: Band) -> float:
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


class StatsService:
    """The numbers of the last days, for the admins' /stats."""

    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self._session = session
        self._actor = actor

    async def last_days(self, days: int) -> Stats:
        self._actor.check("stats")
        return await collect(self._session, days)


async def collect(session: AsyncSession, days: int, now: datetime | None = None) -> Stats:
    """The last `days` days (today included), day by day in UTC. A read: it ends its
    transaction before it returns."""
    now = now or datetime.now(UTC)
    first = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    per_day: dict[date, Counter[Band]] = {first + timedelta(n): Counter() for n in range(days)}
    votes: dict[date, Counter[Label]] = {day: Counter() for day in per_day}
    found = StatsRepository(session)
    async with read_only(session):
        for created, band in await found.questions_since(since):
            per_day.setdefault(_day(created), Counter())[band] += 1
        for created, label in await found.votes_since(since):
            votes.setdefault(_day(created), Counter())[label] += 1
        top = await found.most_answered(since, TOP_ARTICLES)
    return Stats(
        [
            DayCounts(
                day,
                {band: per_day[day][band] for band in Band},
                votes.get(day, Counter())[Label.HELPFUL],
                votes.get(day, Counter())[Label.NOT_HELPFUL],
            )
            for day in sorted(per_day)
        ],
        top,
    )


def _day(moment: datetime) -> date:
    # SQLite hands back naive datetimes; they were written in UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
