"""Admins send article files to the bot and get the base back as one."""

from __future__ import annotations

import json

from sqlalchemy import update

from bot.keyboards import AdminImport
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.articles import ArticleService
from knowledge_base.io import parse_articles, read_articles
from knowledge_base.storage.tables import ArticleRow
from tests.fakes.harness import BotHarness, LaunchBot, launch_admin_bot
from tests.fakes.paths import SAMPLE_BASE
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import shown_text_or_caption
from tests.fakes.telegram import Call, TelegramStub

NEW_TITLE = "Как заказать пропуск для гостя"
NEW_QUESTION = "как оформить гостевой пропуск в офис"


def _jsonl(*records: object) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


async def _send_file(bot: BotHarness, content: bytes, name: str) -> Call:
    [reply] = await bot.send(lambda user: bot.stub.push_document(user, content, name), ADMIN)
    return reply


async def test_a_file_with_a_bad_line_changes_nothing_and_names_the_line(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    content = _jsonl({"title": NEW_TITLE, "body": "Через портал."}) + b'{"title": "broken"\n'
    reply = await _send_file(bot, content, "guests.jsonl")
    assert shown_text_or_caption(reply).startswith(
        "Файл «guests.jsonl» не импортирован, в базе ничего не изменилось."
    )
    assert "Ошибка в строке 2:" in shown_text_or_caption(reply)
    assert TelegramStub.buttons(reply) == []
    async with bot.session_factory() as session:
        assert await ArticleService(session).count(include_archived=True) == 50


async def test_a_good_file_is_previewed_then_imported_and_served(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    changed = read_articles(SAMPLE_BASE)[0]
    content = _jsonl(
        {
            "title": NEW_TITLE,
            "body": "Закажите пропуск на портале за день.",
            "questions": [NEW_QUESTION],
        },
        {"title": changed.title, "body": changed.body + " Дополнено."},
    )
    preview = await _send_file(bot, content, "guests.jsonl")
    assert shown_text_or_caption(preview) == (
        "Файл «guests.jsonl»: 2 статьи.\nБудет добавлено 1, обновлено 1, без изменений 0."
    )
    assert [t for t, _ in TelegramStub.buttons(preview)] == [
        admin_texts.BUTTON_IMPORT,
        admin_texts.BUTTON_CANCEL,
    ]
    [(_, go), (_, _cancel)] = TelegramStub.buttons(preview)
    assert AdminImport.unpack(go).go
    press = await bot.press(preview, go, user_id=ADMIN)
    assert shown_text_or_caption(press.replies[0]) == admin_texts.imported(1, 1, 0)
    reply = await bot.ask(NEW_QUESTION)
    assert shown_text_or_caption(reply).startswith(NEW_TITLE)
    [log] = await bot.say("/audit", user_id=ADMIN)
    assert "guests.jsonl: +1 ~1 =0" in shown_text_or_caption(log)


async def test_a_cancelled_preview_imports_nothing(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    preview = await _send_file(bot, _jsonl({"title": NEW_TITLE, "body": "x"}), "guests.jsonl")
    [(_, go), (_, cancel)] = TelegramStub.buttons(preview)
    press = await bot.press(preview, cancel, user_id=ADMIN)
    assert shown_text_or_caption(press.replies[0]) == admin_texts.CANCELLED
    # The preview is spent: «Импортировать» pressed later does nothing.
    late = await bot.press(preview, go, user_id=ADMIN)
    assert late.alert == admin_texts.IMPORT_GONE
    assert not shown_text_or_caption(await bot.ask(NEW_TITLE)).startswith(NEW_TITLE)
    async with bot.session_factory() as session:
        assert await ArticleService(session).count(include_archived=True) == 50


async def test_a_file_over_the_limit_or_of_another_kind_is_refused(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot, admin_max_file_mb=1)
    big = _jsonl({"title": NEW_TITLE, "body": "я" * 600_000})
    reply = await _send_file(bot, big, "big.jsonl")
    assert shown_text_or_caption(reply) == admin_texts.FILE_TOO_BIG.format(limit=1)
    other = await _send_file(bot, b"hello", "notes.txt")
    assert shown_text_or_caption(other).endswith(admin_texts.FILE_KIND)


async def test_the_exported_base_comes_back_unchanged(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    for fmt in ("jsonl", "yaml", "csv"):
        [sent] = await bot.say(f"/export {fmt}", user_id=ADMIN)
        assert sent.method == "sendDocument"
        file = bot.stub.file(sent.result["document"]["file_id"])
        assert file.file_name == f"faqbot-base.{fmt}"
        drafts = parse_articles(file.content.decode("utf-8"), fmt)
        assert [(d.title, d.body) for d in drafts] == [
            (d.title, d.body) for d in read_articles(SAMPLE_BASE)
        ]
        preview = await _send_file(bot, file.content, file.file_name)
        assert shown_text_or_caption(preview).endswith(
            "Будет добавлено 0, обновлено 0, без изменений 50."
        )
    [wrong] = await bot.say("/export docx", user_id=ADMIN)
    assert shown_text_or_caption(wrong) == admin_texts.EXPORT_FORMATS


async def test_exporting_a_base_with_no_articles_says_so_and_sends_no_empty_file(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    async with bot.session_factory() as session:
        await session.execute(update(ArticleRow).values(archived=True))
        await session.commit()
    for fmt in ("jsonl", "yaml", "csv"):
        [reply] = await bot.say(f"/export {fmt}", user_id=ADMIN)
        assert shown_text_or_caption(reply) == admin_texts.EXPORT_EMPTY, fmt
    assert bot.stub.calls_of("sendDocument") == []


async def test_nobody_else_can_import_or_export(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    [refused] = await bot.say("/export", user_id=USER_ID)
    assert shown_text_or_caption(refused) == texts.UNKNOWN_COMMAND
    [reply] = await bot.send(
        lambda user: bot.stub.push_document(user, _jsonl({"title": "x", "body": "y"}), "a.jsonl"),
        USER_ID,
    )
    assert shown_text_or_caption(reply) == texts.TEXT_ONLY
    message = await bot.ask("как сбросить пароль?")
    press = await bot.press(message, AdminImport(go=True, token="0badc0de").pack(), user_id=USER_ID)
    assert press.alert == admin_texts.NOT_FOR_YOU


async def test_each_preview_imports_its_own_file(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    first = await _send_file(bot, _jsonl({"title": NEW_TITLE, "body": "первый"}), "a.jsonl")
    await _send_file(bot, _jsonl({"title": "Совсем другая статья", "body": "второй"}), "b.jsonl")
    go = TelegramStub.buttons(first)[0][1]
    await bot.press(first, go, user_id=ADMIN)
    assert await bot.body_of(await bot.article_id(NEW_TITLE)) == "первый"
    async with bot.session_factory() as session:
        assert await ArticleService(session).count(include_archived=True) == 51
