"""The README's numbers for the admin console, with the default settings, through the real bot
and the Telegram stand-in (a model of fixed vectors: no model loads): a file up to
ADMIN_MAX_FILE_MB (5) is taken and a byte more refused; /audit shows the last 10 changes;
/stats covers 14 days, and at most 90; /add flags a title at cosine ADMIN_SIMILAR_THRESHOLD
(0.93) to an article, and not one just below; «Привязать к другой статье…» offers the eight
closest articles."""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keyboards import AdminInbox
from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor, ArticleService
from knowledge_base.audit import Actor
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import ArticleDraft, Band, QuestionLog
from tests.fakes.databases import answered_days_ago
from tests.fakes.fixed_vector_bot import fixed_vector_bot
from tests.fakes.people import ADMIN
from tests.fakes.replies import buttons, shown_text_or_caption

ADMINS = frozenset({ADMIN})
MB = 1024 * 1024


def _at(cosine: float) -> list[float]:
    """A unit vector at this cosine to [1, 0]."""
    return [cosine, math.sqrt(1.0 - cosine * cosine)]


def _file_of(size: int) -> bytes:
    """A JSONL file of one article, padded with blank lines to exactly `size` bytes."""
    article = json.dumps({"title": "Отпуск", "body": "Как оформить"}, ensure_ascii=False)
    content = (article + "\n").encode()
    return content + b"\n" * (size - len(content))


@pytest.mark.parametrize(("size", "taken"), [(5 * MB, True), (5 * MB + 1, False)])
async def test_an_article_file_up_to_5_mb_is_taken_and_a_byte_more_refused(
    tmp_path: Path, size: int, taken: bool
) -> None:
    async with fixed_vector_bot(tmp_path, {}, admin_ids=ADMINS) as bot:
        content = _file_of(size)
        assert len(content) == size
        reply = await bot.reply_to(
            ADMIN, partial(bot.stub.push_document, ADMIN, content, "base.jsonl")
        )
    shown = shown_text_or_caption(reply)
    if taken:
        assert shown.startswith("Файл «base.jsonl»: 1 статья"), shown
    else:
        assert shown == admin_texts.FILE_TOO_BIG.format(limit=5)


async def _twelve_changes(factory: async_sessionmaker[AsyncSession]) -> None:
    for n in range(1, 13):
        async with factory() as session:
            await ArticleEditor(session, Actor(ADMIN, ADMINS)).create(
                ArticleDraft(f"Статья {n}", "Текст")
            )


async def test_audit_shows_the_last_ten_changes_unless_told_how_many(tmp_path: Path) -> None:
    async with fixed_vector_bot(tmp_path, {}, _twelve_changes, admin_ids=ADMINS) as bot:
        latest = await bot.reply_to(ADMIN, partial(bot.stub.push_text, ADMIN, "/audit"))
        all_of_them = await bot.reply_to(ADMIN, partial(bot.stub.push_text, ADMIN, "/audit 12"))
    lines = shown_text_or_caption(latest).splitlines()
    assert len(lines) == 10
    # Newest first: «Статья 12» down to «Статья 3».
    assert "«Статья 12»" in lines[0] and "«Статья 3»" in lines[-1]
    assert len(shown_text_or_caption(all_of_them).splitlines()) == 12


async def _asked_days_ago(factory: async_sessionmaker[AsyncSession]) -> None:
    """One answered question 13, 14, 89 and 90 days ago."""
    await answered_days_ago(factory, (13, 14, 89, 90))


async def test_stats_cover_the_last_14_days_and_at_most_90(tmp_path: Path) -> None:
    async with fixed_vector_bot(tmp_path, {}, _asked_days_ago, admin_ids=ADMINS) as bot:
        shown = []
        for command in ("/stats", "/stats 365"):
            mark = bot.stub.mark()
            reply = await bot.reply_to(ADMIN, partial(bot.stub.push_text, ADMIN, command))
            shown.append([line for line in shown_text_or_caption(reply).splitlines() if line][:2])
            await bot.stub.wait_for("sendPhoto", timeout=30, after=mark)  # the chart follows
    # Today and the 13 days before it: the question of 13 days ago, not the one of 14.
    assert shown[0][0] == "За 14 дней: 1 вопрос."
    # 365 is past the most it shows: it says so, and shows 90.
    assert shown[1] == [
        "/stats 365: можно от 1 до 90 дней — показываю за 90 дней.",
        "За 90 дней: 3 вопроса.",
    ]


async def _password_article(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session:
        await ArticleService(session).import_drafts([ArticleDraft("Пароль", "Как сменить")])


@pytest.mark.parametrize(("cosine", "flagged"), [(0.9301, True), (0.9299, False)])
async def test_a_new_title_at_cosine_0_93_to_an_article_is_flagged_as_a_near_copy(
    tmp_path: Path, cosine: float, flagged: bool
) -> None:
    vectors = {"Пароль": [1.0, 0.0], "Смена пароля": _at(cosine)}
    async with fixed_vector_bot(tmp_path, vectors, _password_article, admin_ids=ADMINS) as bot:
        for step in ("/add", "Смена пароля", "Откройте профиль."):
            await bot.reply_to(ADMIN, partial(bot.stub.push_text, ADMIN, step))
        mark = bot.stub.mark()
        bot.stub.push_text(ADMIN, "совсем другая фраза")
        summary = await bot.stub.wait_for(
            "sendMessage", lambda call: "reply_markup" in call.params, timeout=10, after=mark
        )
    assert ("Похоже на: «Пароль»" in shown_text_or_caption(summary)) is flagged


async def _ten_articles_and_a_question_nobody_answered(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    async with factory() as session:
        await ArticleService(session).import_drafts(
            [ArticleDraft(f"Статья {n}", "Текст") for n in range(1, 11)]
        )
        await QueryRepository(session).log_many(
            [QuestionLog(101, "есть ли в офисе спортзал", None, 0.1, Band.NOTHING, "fixed")]
        )
        await session.commit()


async def test_choosing_another_article_offers_the_eight_closest(tmp_path: Path) -> None:
    async with fixed_vector_bot(
        tmp_path, {}, _ten_articles_and_a_question_nobody_answered, admin_ids=ADMINS
    ) as bot:
        mark = bot.stub.mark()
        bot.stub.push_text(ADMIN, "/unanswered")
        group = await bot.stub.wait_for(
            "sendMessage", lambda call: "reply_markup" in call.params, timeout=10, after=mark
        )
        [choose] = [
            data for _, data in buttons(group) if AdminInbox.unpack(data).action == "choose"
        ]
        offer = await bot.reply_to(
            ADMIN, partial(bot.stub.push_callback, ADMIN, group.result["message_id"], choose)
        )
    offered = buttons(offer)
    assert len(offered) == 8, offered
    assert all(label.startswith("→ Статья ") for label, _ in offered)
