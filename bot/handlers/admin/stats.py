"""/stats [дней]: the numbers of the base in words, and a chart of questions per day."""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.charts import daily_chart
from bot.texts import admin as admin_texts
from knowledge_base.inbox import InboxService
from knowledge_base.search.service import SearchService
from knowledge_base.stats import StatsService
from knowledge_base.types import Band

DEFAULT_DAYS, MAX_DAYS = 14, 90


async def show_stats(
    message: Message,
    command: CommandObject,
    stats: StatsService,
    inbox: InboxService,
    search: SearchService,
) -> None:
    """/stats [дней | неделя | месяц]: questions, bands, 👍/👎, top articles, the inbox, the
    model; a chart. Anything else is answered with what the command accepts; a number out of
    range is brought into it, and the reply says so."""
    wanted = (command.args or "").strip()
    period = admin_texts.STATS_PERIODS.get(wanted.lower())
    if wanted and not wanted.isdecimal() and period is None:
        await message.answer(admin_texts.stats_usage(wanted, MAX_DAYS))
        return
    asked = period or (int(wanted) if wanted else DEFAULT_DAYS)
    days = min(max(asked, 1), MAX_DAYS)
    found = await stats.last_days(days)
    groups = await inbox.groups()
    text = admin_texts.stats_text(
        days,
        total=found.total,
        shares={band: found.band_share(band) for band in Band},
        helpful=found.helpful,
        not_helpful=found.not_helpful,
        rate=found.helpful_rate,
        top=found.top_articles,
        inbox=[(g.size, g.questions[0].text) for g in groups[:3]],
        model=search.model_version,
    )
    if days != asked:
        text = admin_texts.stats_clamped(asked, days, MAX_DAYS) + "\n\n" + text
    await message.answer(text)
    picture = await asyncio.to_thread(daily_chart, found)  # matplotlib takes a while
    await message.answer_photo(BufferedInputFile(picture, filename="stats.png"))


def create_router() -> Router:
    router = Router(name="admin-stats")
    router.message.register(show_stats, Command("stats"))
    return router
