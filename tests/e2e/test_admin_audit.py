"""/audit as an admin reads it: who acted by name, local time, Russian labels for every
action, the title as it was, imports by article, whole changes behind «Подробнее», and
arguments it does not take answered."""

from __future__ import annotations

import json
from datetime import UTC
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.texts import admin as admin_texts
from knowledge_base.articles import ArticleEditor
from knowledge_base.audit import Actor
from knowledge_base.storage.audit import AuditRepository
from knowledge_base.storage.tables import ArticleRow, AuditRow
from knowledge_base.types import AuditAction
from tests.fakes.harness import FORCE_NOTHING, BotHarness, LaunchBot, launch_admin_bot
from tests.fakes.people import ADMIN
from tests.fakes.replies import buttons, shown_text, shown_text_or_caption
from tests.fakes.telegram import Call, TelegramStub

NEW_TITLE = "Как заказать пропуск для гостя"
# The stand-in's name for a person (tests/fakes/telegram.py, user_object).
ADMIN_SHOWN = f"User {ADMIN} (@user{ADMIN})"


def _jsonl(*records: object) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


async def _first_article(bot: BotHarness) -> tuple[int, str]:
    async with bot.session_factory() as session:
        row = (
            await session.execute(
                select(ArticleRow.id, ArticleRow.title).order_by(ArticleRow.id).limit(1)
            )
        ).one()
    return row.id, row.title


async def test_an_import_names_its_articles_the_admin_and_the_local_time(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot, timezone="Asia/Yekaterinburg")
    _, changed = await _first_article(bot)
    content = _jsonl(
        {"title": NEW_TITLE, "body": "Закажите пропуск на портале за день."},
        {"title": changed, "body": "Новый текст статьи."},
    )
    [preview] = await bot.send(
        lambda user: bot.stub.push_document(user, content, "guests.jsonl"), ADMIN
    )
    [(_, go), _] = TelegramStub.buttons(preview)
    await bot.press(preview, go, user_id=ADMIN)
    [log] = await bot.say("/audit", user_id=ADMIN)
    newest = shown_text(log).splitlines()[0]
    async with bot.session_factory() as session:
        at = await session.scalar(select(AuditRow.at).order_by(AuditRow.id.desc()).limit(1))
    assert at is not None
    local = at.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Yekaterinburg"))
    assert newest == (
        f"{local:%d.%m %H:%M} · {ADMIN_SHOWN} · база — импорт файла «guests.jsonl»: "
        f"добавлено 1 — «{NEW_TITLE}»; обновлено 1 — «{changed}»; без изменений 0"
    )
    assert f"{at:%H:%M}" not in newest  # UTC (five hours behind) is not what it shows


async def test_every_action_has_a_russian_label_and_old_rows_show_the_id(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    async with bot.session_factory() as session:
        for action in AuditAction:
            await AuditRepository(session).add(ADMIN, action, None, "", "")
        session.add(AuditRow(actor_id=ADMIN, action="from_the_future", before="", after=""))
        await session.commit()
    [log] = await bot.say("/audit 50", user_id=ADMIN)
    text = shown_text(log)
    for action in AuditAction:
        assert admin_texts.ACTIONS[action.value] in text, action
        assert action.value not in text
    assert "from_the_future" not in text
    assert text.splitlines()[0].endswith(admin_texts.UNKNOWN_ACTION)
    # Written without a name (as rows from before names were kept): the id.
    assert all(f"админ {ADMIN} · " in line for line in text.splitlines())


async def test_an_entry_keeps_the_title_the_article_had_when_it_was_changed(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id, title = await _first_article(bot)
    async with bot.session_factory() as session:
        await AuditRepository(session).add(
            ADMIN, AuditAction.ARCHIVE, article_id, "", "", actor_name="Анна"
        )
        await session.execute(
            update(ArticleRow).where(ArticleRow.id == article_id).values(title="Новое имя")
        )
        # An old row: no title kept, so today's one, said as such.
        session.add(
            AuditRow(
                actor_id=ADMIN,
                action=AuditAction.RESTORE.value,
                article_id=article_id,
                before="",
                after="",
            )
        )
        await session.commit()
    [log] = await bot.say("/audit", user_id=ADMIN)
    old, kept = shown_text(log).splitlines()[:2]
    assert old.endswith(" · «Новое имя» (заголовок сейчас) — из архива")
    assert kept.endswith(f" · Анна · «{title}» — в архив")


async def test_more_shows_the_whole_before_and_after(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id, _ = await _first_article(bot)
    before = "Старый текст. " + "Было так. " * 40 + "КОНЕЦ-ДО"
    after = "Новый текст. " + "Стало иначе. " * 40 + "КОНЕЦ-ПОСЛЕ"
    async with bot.session_factory() as session:
        await AuditRepository(session).add(ADMIN, AuditAction.EDIT_BODY, article_id, before, after)
        await session.commit()
    [log] = await bot.say("/audit", user_id=ADMIN)
    assert "КОНЕЦ-ДО" not in shown_text(log) and "…" in shown_text(log)
    [(label, more)] = buttons(log)
    assert label.startswith("Подробнее")
    pressed = await bot.press(log, more, user_id=ADMIN)
    whole = "\n".join(shown_text_or_caption(reply) for reply in pressed.replies)
    assert f"Было:\n{before}" in whole and f"Стало:\n{after}" in whole


async def test_arguments_it_does_not_take_are_answered(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    async with bot.session_factory() as session:
        for _ in range(3):
            await AuditRepository(session).add(ADMIN, AuditAction.ADD, None, "", "")
        await session.commit()
    [usage] = await bot.say("/audit abc", user_id=ADMIN)
    assert shown_text(usage) == admin_texts.AUDIT_USAGE.format(limit=50)
    for command, note, lines in (
        ("/audit 0", "Показываю хотя бы одно — последнее изменение (просили 0).", 1),
        ("/audit -5", "Показываю хотя бы одно — последнее изменение (просили -5).", 1),
        ("/audit 100000", "Больше 50 за раз не показываю — вот последние 50.", 3),
    ):
        [reply] = await bot.say(command, user_id=ADMIN)
        first, *entries = shown_text(reply).splitlines()
        assert first == note, command
        assert len(entries) == lines, command


async def test_a_change_longer_than_a_few_messages_comes_as_a_file(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id, _ = await _first_article(bot)
    before, after = "Старый текст. " * 700, "Новый текст. " * 700 + "КОНЕЦ"
    async with bot.session_factory() as session:
        await AuditRepository(session).add(ADMIN, AuditAction.EDIT_BODY, article_id, before, after)
        await session.commit()
    [log] = await bot.say("/audit", user_id=ADMIN)
    [(_, more)] = buttons(log)
    pressed = await bot.press(log, more, user_id=ADMIN)
    [document] = pressed.replies
    assert document.method == "sendDocument"
    assert shown_text_or_caption(document).endswith(" — новый текст")
    file = bot.stub.file(document.result["document"]["file_id"])
    assert file.content.decode() == f"Было:\n{before}\n\nСтало:\n{after}\n"


async def test_inbox_entries_name_the_questions_and_whether_people_were_told(
    launch_bot: LaunchBot,
) -> None:
    """An attach, its undo and two dismissals show the questions (a repeat counted once),
    not how many there were; a dismissal says whether the people were told."""
    gym, canteen = "есть ли у компании корпоративный спортзал", "какое меню в столовой"
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    for user, question in [(101, gym), (102, gym), (103, canteen)]:
        bot.stub.open_chat(user)
        await bot.say(question, user_id=user)

    async def groups() -> list[Call]:
        calls = await bot.say("/unanswered", user_id=ADMIN)
        return [c for c in calls if c.method == "sendMessage"][1:]

    async def press(message: Call, label: str, then: str | None = None) -> Call:
        """Press the button; of the messages the bot sent or edited in answer, the one with
        the button `then` (the last one without it)."""
        replies = (await bot.press(message, dict(buttons(message))[label], user_id=ADMIN)).replies
        return [r for r in replies if then is None or then in dict(buttons(r))][-1]

    first, _ = await groups()
    # The closest article's button, wherever the card puts it (a weak match puts it lower).
    [attach] = [data for label, data in buttons(first) if label.startswith("Привязать к «")]
    [ask] = (await bot.press(first, attach, user_id=ADMIN)).replies
    done = await press(ask, admin_texts.BUTTON_CONFIRM_ATTACH, admin_texts.BUTTON_UNDO)
    await press(done, admin_texts.BUTTON_UNDO)
    first, second = await groups()
    tell, quiet = admin_texts.BUTTON_DISMISS_TELL, admin_texts.BUTTON_DISMISS_QUIET
    await press(await press(first, admin_texts.BUTTON_DISMISS, tell), tell)
    await press(await press(second, admin_texts.BUTTON_DISMISS, quiet), quiet)
    [log] = await bot.say("/audit", user_id=ADMIN)
    quiet, told, undone, attached = [
        line.split(" · ", 2)[2] for line in shown_text(log).splitlines()
    ]
    assert quiet == f"база — отклонены вопросы без ответа: «{canteen}» — молча"
    assert told == f"база — отклонены вопросы без ответа: «{gym}» ×2 — спросившим сообщили"
    assert undone.endswith(f"— отменена привязка вопросов без ответа: «{gym}» ×2")
    assert attached.endswith(f"— привязаны вопросы без ответа: «{gym}» ×2")


async def test_more_shows_a_body_with_its_formatting_and_link_targets(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id, _ = await _first_article(bot)
    text = "Меню — на портале. Обед с 12:00."

    def html(url: str) -> str:
        return f'Меню — на <a href="{escape(url)}">портале</a>. <b>Обед</b> с 12:00.'

    old, new = "https://portal.example.com/canteen", "https://portal.example.com/food?day=1&x=2"
    async with bot.session_factory() as session:
        editor = ArticleEditor(session, Actor(ADMIN, frozenset({ADMIN}), first_name="User"))
        assert await editor.rewrite(article_id, text, html(old))
    async with bot.session_factory() as session:
        editor = ArticleEditor(session, Actor(ADMIN, frozenset({ADMIN}), first_name="User"))
        # Only the link's target changes: the visible text is the same.
        assert await editor.rewrite(article_id, text, html(new))
    [log] = await bot.say("/audit", user_id=ADMIN)
    # The short line stays plain text.
    first = shown_text(log).splitlines()[0]
    assert f"«{text}» → «{text}»" in first and "<" not in first
    [(_, more), *_] = buttons(log)
    pressed = await bot.press(log, more, user_id=ADMIN)
    [reply] = pressed.replies
    sent = str(reply.params["text"])
    # Each body with its formatting, each link's target written out after it.
    assert f'<a href="{old}">портале</a> ({old})' in sent
    assert f'<a href="{escape(new)}">портале</a> ({escape(new)})' in sent
    assert sent.count("<b>Обед</b>") == 2
    shown = shown_text(reply)
    assert f"Было:\nМеню — на портале ({old}). Обед с 12:00." in shown
    assert f"Стало:\nМеню — на портале ({new}). Обед с 12:00." in shown
    assert [e["type"] for e in reply.result["entities"]].count("text_link") == 2
