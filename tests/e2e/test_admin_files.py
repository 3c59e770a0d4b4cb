"""Admins send article files to the bot and get the base back as one."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.keyboards import AdminImport
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.articles import ArticleService
from knowledge_base.io import decode_text, parse_articles, read_articles
from knowledge_base.storage.tables import ArticleRow, PhrasingRow
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
        "Файл «guests.jsonl»: 2 статьи.\nБудет добавлено 1, обновлено 1, без изменений 0.\n\n"
        f"Добавятся:\n• {NEW_TITLE}\n\nОбновятся:\n• {changed.title} — текст, тема"
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
    # Its /audit entry: tests/e2e/test_admin_audit.py.


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
    # UTC+14: most of the day its date is not UTC's, so the name shows whose date it is.
    zone = ZoneInfo("Pacific/Kiritimati")
    bot = await launch_admin_bot(launch_bot, timezone=zone.key)
    for fmt in ("jsonl", "yaml", "csv"):
        before = datetime.now(zone).date()
        [sent] = await bot.say(f"/export {fmt}", user_id=ADMIN)
        after = datetime.now(zone).date()
        assert sent.method == "sendDocument"
        file = bot.stub.file(sent.result["document"]["file_id"])
        # Named with the admin's date of today: a second export does not overwrite the first.
        assert file.file_name in {f"faqbot-base-{day.isoformat()}.{fmt}" for day in (before, after)}
        drafts = parse_articles(file.content.decode("utf-8"), fmt)
        assert file.content.startswith(b"\xef\xbb\xbf") == (fmt == "csv")
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


FORMATTED_TITLE = "Как записаться в корпоративный спортзал"
FORMATTED_QUESTION = "абонемент в фитнес от компании"
FORMATTED_TEXT = "Откройте портал & нажмите «Подключить». Код <b> не нужен: gym-123."
FORMATTED_ENTITIES = [
    {"type": "bold", "offset": 0, "length": len("Откройте портал")},
    {
        "type": "text_link",
        "offset": FORMATTED_TEXT.index("нажмите"),
        "length": len("нажмите"),
        "url": "https://gym.example.com/?from=hr&city=any",
    },
    {"type": "code", "offset": FORMATTED_TEXT.index("gym-123"), "length": len("gym-123")},
]
LINK = '<a href="https://gym.example.com/?from=hr&city=any">нажмите</a>'


async def _add_formatted_article(bot: BotHarness) -> None:
    """An admin writes an article in Telegram with bold, a link and code, through /add."""
    await bot.say("/add", user_id=ADMIN)
    await bot.say(FORMATTED_TITLE, user_id=ADMIN)
    await bot.say_formatted(FORMATTED_TEXT, FORMATTED_ENTITIES, user_id=ADMIN)
    *_, summary = await bot.say(f"{FORMATTED_QUESTION}\nскидка на спортзал", user_id=ADMIN)
    saves = (admin_texts.BUTTON_SAVE, admin_texts.BUTTON_SAVE_ANYWAY)
    [save] = [d for t, d in TelegramStub.buttons(summary) if t in saves]
    await bot.press(summary, save, user_id=ADMIN)
    async with bot.session_factory() as session:
        row = await session.scalar(select(ArticleRow).where(ArticleRow.title == FORMATTED_TITLE))
    assert row is not None and row.body == FORMATTED_TEXT
    assert row.body_html is not None and LINK in row.body_html, row.body_html


async def _stored(bot: BotHarness) -> list[tuple[object, ...]]:
    """Every article and phrasing row as the database holds it."""
    async with bot.session_factory() as session:
        articles = await session.execute(
            select(
                ArticleRow.id,
                ArticleRow.title,
                ArticleRow.body,
                ArticleRow.body_html,
                ArticleRow.category,
                ArticleRow.archived,
            ).order_by(ArticleRow.id)
        )
        phrasings = await session.execute(
            select(
                PhrasingRow.id, PhrasingRow.article_id, PhrasingRow.text, PhrasingRow.source
            ).order_by(PhrasingRow.id)
        )
        return [tuple(row) for row in (*articles.all(), *phrasings.all())]


async def _export(bot: BotHarness, fmt: str) -> tuple[bytes, str]:
    [sent] = await bot.say(f"/export {fmt}", user_id=ADMIN)
    assert sent.method == "sendDocument", shown_text_or_caption(sent)
    file = bot.stub.file(sent.result["document"]["file_id"])
    return file.content, str(file.file_name)


async def _import(bot: BotHarness, content: bytes, name: str) -> tuple[str, str]:
    """Send the file and press «Импортировать»: the preview and the result, as shown."""
    preview = await _send_file(bot, content, name)
    buttons = dict(TelegramStub.buttons(preview))
    assert admin_texts.BUTTON_IMPORT in buttons, shown_text_or_caption(preview)
    press = await bot.press(preview, buttons[admin_texts.BUTTON_IMPORT], user_id=ADMIN)
    return shown_text_or_caption(preview), shown_text_or_caption(press.replies[0])


async def test_an_export_restores_every_article_byte_for_byte_formatting_included(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _add_formatted_article(bot)
    before = await _stored(bot)
    for fmt in ("jsonl", "yaml", "csv"):
        content, name = await _export(bot, fmt)
        # Importing the export unchanged changes nothing and says so.
        preview, result = await _import(bot, content, name)
        assert preview.endswith("Будет добавлено 0, обновлено 0, без изменений 51."), fmt
        assert result == admin_texts.imported(0, 0, 51)
        assert await _stored(bot) == before, fmt
        # An article spoiled after the export (its text and formatting) comes back whole.
        async with bot.session_factory() as session:
            await session.execute(
                update(ArticleRow)
                .where(ArticleRow.title == FORMATTED_TITLE)
                .values(body="испорчено", body_html=None)
            )
            await session.commit()
        preview, result = await _import(bot, content, name)
        assert preview.endswith(
            "Будет добавлено 0, обновлено 1, без изменений 50.\n\n"
            f"Обновятся:\n• {FORMATTED_TITLE} — текст, оформление"
        ), fmt
        assert result == admin_texts.imported(0, 1, 50)
        assert await _stored(bot) == before, fmt
    reply = await bot.ask(FORMATTED_QUESTION)
    assert LINK in str(reply.params["text"]) and "<code>gym-123</code>" in str(reply.params["text"])


async def test_a_word_changed_in_an_exported_formatted_article_keeps_its_formatting(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _add_formatted_article(bot)
    words = ["Подключить", "Соединить", "Связать", "Включить"]
    for fmt, old, new in zip(("jsonl", "yaml", "csv"), words, words[1:], strict=False):
        content, name = await _export(bot, fmt)
        [exported] = [
            d for d in parse_articles(decode_text(content), fmt) if d.title == FORMATTED_TITLE
        ]
        assert exported.body_html is not None and LINK in exported.body_html, fmt
        assert f"«{old}»" in exported.body_html, fmt
        _, result = await _import(bot, content.replace(old.encode(), new.encode()), name)
        assert result == admin_texts.imported(0, 1, 50), fmt
        async with bot.session_factory() as session:
            row = await session.scalar(
                select(ArticleRow).where(ArticleRow.title == FORMATTED_TITLE)
            )
        assert row is not None
        assert row.body == FORMATTED_TEXT.replace("Подключить", new), fmt
        assert row.body_html is not None, fmt
        assert LINK in row.body_html and f"«{new}»" in row.body_html, fmt
        assert "<b>Откройте портал</b>" in row.body_html and "<code>gym-123</code>" in row.body_html
    reply = await bot.ask(FORMATTED_QUESTION)
    assert LINK in str(reply.params["text"])


async def test_a_csv_saved_by_russian_excel_imports(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    # Excel in a Russian locale: cells separated by ";", text in Windows-1251.
    content = (
        "title;body;questions;category\r\n"
        f"{NEW_TITLE};Закажите пропуск на портале, за день до визита.;{NEW_QUESTION};Офис\r\n"
    ).encode("cp1251")
    preview, result = await _import(bot, content, "guests.csv")
    assert preview == (
        "Файл «guests.csv»: 1 статья.\nБудет добавлено 1, обновлено 0, без изменений 0.\n\n"
        f"Добавятся:\n• {NEW_TITLE}"
    )
    assert result == admin_texts.imported(1, 0, 0)
    assert await bot.body_of(await bot.article_id(NEW_TITLE)) == (
        "Закажите пропуск на портале, за день до визита."
    )
    assert shown_text_or_caption(await bot.ask(NEW_QUESTION)).startswith(NEW_TITLE)
    garbage = await _send_file(bot, b"PK\x03\x04\x00\x00\xff\xfe\x98binary", "base.csv")
    assert "Ошибка в строке 1: файл не текстовый" in shown_text_or_caption(garbage)


async def test_a_formatted_body_telegram_would_refuse_is_named_with_its_line(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    content = _jsonl(
        {"title": NEW_TITLE, "body": "Через портал."},
        {"title": "Вторая", "body": "<b>жирный <i>курсив</b></i>", "format": "html"},
    )
    reply = await _send_file(bot, content, "guests.jsonl")
    assert shown_text_or_caption(reply) == admin_texts.FILE_REFUSED.format(
        name="guests.jsonl",
        reason="Ошибка в строке 2: в тексте с format: html </b> там, где должен быть </i>: "
        "теги вложены неправильно.",
    )
    assert TelegramStub.buttons(reply) == []


async def test_the_preview_names_the_articles_added_and_updated_and_what_changes(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    body, questions, topic, both, same = read_articles(SAMPLE_BASE)[:5]
    new = [{"title": f"Новая статья {n:02}", "body": "Текст."} for n in range(1, 13)]
    content = _jsonl(
        *new,
        {"title": body.title, "body": body.body + " Дополнено.", "category": body.category},
        {
            "title": questions.title,
            "body": questions.body,
            "questions": ["совсем новый вопрос"],
            "category": questions.category,
        },
        {"title": topic.title, "body": topic.body, "category": "Другая тема"},
        {"title": both.title, "body": "Новый текст.", "questions": ["ещё один вопрос"]},
        {"title": same.title, "body": same.body, "category": same.category},
    )
    preview = shown_text_or_caption(await _send_file(bot, content, "big.jsonl"))
    shown_new = "\n".join(f"• Новая статья {n:02}" for n in range(1, 11))
    assert preview == (
        "Файл «big.jsonl»: 17 статей.\nБудет добавлено 12, обновлено 4, без изменений 1.\n\n"
        f"Добавятся:\n{shown_new}\n… и ещё 2\n\n"
        "Обновятся:\n"
        f"• {body.title} — текст\n"
        f"• {questions.title} — фразы\n"
        f"• {topic.title} — тема\n"
        f"• {both.title} — текст, фразы" + (", тема" if both.category else "")
    )
    async with bot.session_factory() as session:
        assert (
            await session.scalar(select(ArticleRow.id).where(ArticleRow.title == new[0]["title"]))
            is None
        )
