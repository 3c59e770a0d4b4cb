"""/stats [дней]: the numbers of the base in words, and a chart of questions per day."""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.charts import daily_chart
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.inbox import group_questions
from knowledge_base.search.service import SearchEngine

DEFAULT_DAYS, MAX_DAYS = 14, 90


async def show_stats(
    message: Message,
    command: CommandObject,
    editor: ArticleEditor,
    search_engine: SearchEngine,
) -> None:
    """/stats [дней]: questions, bands, 👍/👎, top articles, the inbox, the model; a chart."""
    try:
        days = min(max(int(command.args or DEFAULT_DAYS), 1), MAX_DAYS)
    except ValueError:
        days = DEFAULT_DAYS
    stats = await editor.stats(days)
    groups = await group_questions(search_engine, await editor.inbox())
    text = admin_texts.stats_text(
        days,
        stats.total,
        {band: stats.band_share(band) for band in ("answer", "suggest", "nothing")},
        stats.helpful,
        stats.not_helpful,
        stats.helpful_rate,
        stats.top_articles,
        [(g.size, g.questions[0].text) for g in groups[:3]],
        search_engine.model_version,
    )
    await message.answer(text)
    picture = await asyncio.to_thread(daily_chart, stats)  # matplotlib takes a while
    await message.answer_photo(BufferedInputFile(picture, filename="stats.png"))


def create_router() -> Router:
    router = Router(name="admin-stats")
    router.message.register(show_stats, Command("stats"))
    return router
