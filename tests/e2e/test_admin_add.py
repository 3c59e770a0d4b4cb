"""/add, as an admin walks through it in Telegram."""

from __future__ import annotations

import time

import pytest

from bot.handlers.admin import dialogs as dialogs_module
from bot.keyboards import AdminAdd, AdminAddTopic, AdminCard, topic_tag
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from tests.fakes.harness import BotHarness, LaunchBot, launch_admin_bot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import shown_text
from tests.fakes.telegram import Call, TelegramStub

TITLE = "Как записаться в корпоративный спортзал"
BODY = "Абонемент оформляют в HR-портале: раздел «Льготы» → «Спорт». Компания платит половину."
PHRASINGS = "абонемент в фитнес от компании\nскидка на спортзал"


async def _say(bot: BotHarness, text: str) -> list[Call]:
    return await bot.say(text, user_id=ADMIN)


async def test_the_whole_dialog_saves_an_article_that_is_found_at_once(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    [ask_title] = await _say(bot, "/add")
    assert shown_text(ask_title) == admin_texts.ADD_TITLE
    [ask_body] = await _say(bot, TITLE)
    assert shown_text(ask_body) == f"Заголовок: «{TITLE}». Теперь пришлите текст статьи."
    [ask_phrasings] = await _say(bot, BODY)
    assert shown_text(ask_phrasings) == admin_texts.ADD_PHRASINGS
    assert [t for t, _ in TelegramStub.buttons(ask_phrasings)] == [
        admin_texts.BUTTON_NO_PHRASINGS,
        admin_texts.BUTTON_ADD_BACK,
        admin_texts.BUTTON_CANCEL,
    ]
    intro, preview, summary = await _say(bot, PHRASINGS)
    assert shown_text(intro) == admin_texts.ADD_PREVIEW
    # Exactly what a person will be shown, markup and all.
    assert preview.params["text"] == texts.article(TITLE, BODY)
    assert shown_text(summary).startswith(
        "Фразы: абонемент в фитнес от компании; скидка на спортзал"
    )
    assert "Похоже на" not in shown_text(summary)
    assert [t for t, _ in TelegramStub.buttons(summary)] == [
        admin_texts.BUTTON_SAVE,
        admin_texts.BUTTON_ADD_FIX_TITLE,
        admin_texts.BUTTON_ADD_FIX_BODY,
        admin_texts.BUTTON_ADD_TOPIC,
        admin_texts.BUTTON_ADD_BACK,
        admin_texts.BUTTON_CANCEL,
    ]
    press = await bot.press(summary, AdminAdd(step="save", at="preview").pack(), user_id=ADMIN)
    assert shown_text(press.replies[0]) == f"Статья «{TITLE}» сохранена, поиск уже её находит."
    reply = await bot.ask("скидка на спортзал")
    assert shown_text(reply).startswith(TITLE)
    [log] = await _say(bot, "/audit")
    assert "создана" in shown_text(log) and TITLE in shown_text(log)


async def test_a_near_copy_is_flagged_with_a_way_to_open_the_original(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    original = "Инструкция по смене пароля"
    await _say(bot, "/add")
    await _say(bot, "Инструкция по смене пароля.")
    [ask_phrasings] = await _say(bot, "Как сменить пароль: откройте профиль.")
    press = await bot.press(
        ask_phrasings, AdminAdd(step="skip", at="phrasings").pack(), user_id=ADMIN
    )
    *_, summary = press.replies
    shown = shown_text(summary)
    assert f"Похоже на: «{original}»" in shown, shown
    buttons = TelegramStub.buttons(summary)
    assert buttons[0] == (
        f"Открыть «{original}»",
        AdminCard(article_id=await bot.article_id(original), apart=True).pack(),
    )
    assert [t for t, _ in buttons[1:]] == [
        admin_texts.BUTTON_SAVE_ANYWAY,
        admin_texts.BUTTON_ADD_FIX_TITLE,
        admin_texts.BUTTON_ADD_FIX_BODY,
        admin_texts.BUTTON_ADD_TOPIC,
        admin_texts.BUTTON_ADD_BACK,
        admin_texts.BUTTON_CANCEL,
    ]
    # Opening the original shows its card apart; the draft and its buttons stay.
    opened = await bot.press(summary, buttons[0][1], user_id=ADMIN)
    [card] = opened.replies
    assert card.method == "sendMessage" and shown_text(card).startswith(original)
    assert TelegramStub.buttons(bot.current(summary)) == buttons
    cancelled = await bot.press(
        summary, AdminAdd(step="cancel", at="preview").pack(), user_id=ADMIN
    )
    assert shown_text(cancelled.replies[0]).startswith("Создание статьи «Инструкция по смене")
    assert shown_text(cancelled.replies[0]).endswith("» отменено.")
    assert await bot.title_of(await bot.article_id(original)) == original
    [log] = await _say(bot, "/audit")
    assert shown_text(log) == admin_texts.NO_CHANGES


async def test_cancel_midway_leaves_the_dialog_and_the_base_as_it_was(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    # A command is a command even inside the dialog (it pauses it), and /cancel ends it.
    helped, paused = await _say(bot, "/help")
    assert shown_text(helped).startswith("Как мной пользоваться")
    assert shown_text(paused) == admin_texts.add_paused(TITLE)
    [cancelled] = await _say(bot, "/cancel")
    assert shown_text(cancelled) == f"Создание статьи «{TITLE}» отменено."
    # The next text is a question again.
    reply = await bot.ask(BODY, user_id=ADMIN)
    assert not shown_text(reply).startswith(TITLE)
    # Searched and logged as an admin's question, not taken as the article's text.
    assert [(q.user_id, q.text) for q in await bot.queries()][-1] == (ADMIN, BODY)
    [stale] = await _say(bot, "/cancel")
    assert shown_text(stale) == admin_texts.NOTHING_TO_CANCEL


async def test_a_taken_title_or_a_sticker_is_asked_again(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    [taken] = await _say(bot, "Инструкция по смене пароля")
    assert shown_text(taken) == admin_texts.ADD_TITLE_TAKEN
    [sticker] = await bot.send(bot.stub.push_sticker, ADMIN)
    assert shown_text(sticker) == admin_texts.NEED_TEXT
    [ask_body] = await _say(bot, TITLE)
    assert shown_text(ask_body).startswith("Заголовок:")


async def test_nobody_else_can_add(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    [refused] = await bot.say("/add", user_id=USER_ID)
    assert shown_text(refused) == texts.UNKNOWN_COMMAND
    message = await bot.ask("как сбросить пароль?")
    for step in ("skip", "save", "cancel"):
        press = await bot.press(message, AdminAdd(step=step).pack(), user_id=USER_ID)
        assert press.alert == admin_texts.NOT_FOR_YOU


async def test_a_dialog_left_for_a_day_expires(
    launch_bot: LaunchBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    now = time.time()
    monkeypatch.setattr(dialogs_module.time, "time", lambda: now + 25 * 3600)
    [expired] = await _say(bot, BODY)
    assert shown_text(expired) == admin_texts.DIALOG_EXPIRED
    # Left: the next text is a question again.
    reply = await bot.ask("как сбросить пароль?", user_id=ADMIN)
    assert shown_text(reply).startswith("Инструкция по смене пароля")


def _button(call: Call | dict[str, object], label: str) -> str:
    found = [d for t, d in TelegramStub.buttons(call) if t == label]
    assert found, (label, TelegramStub.buttons(call))
    return found[0]


async def _to_preview(bot: BotHarness) -> Call:
    """/add up to its preview; the summary under it."""
    await _say(bot, "/add")
    await _say(bot, TITLE)
    await _say(bot, BODY)
    *_, summary = await _say(bot, PHRASINGS)
    return summary


async def _pick(bot: BotHarness, summary: Call) -> Call:
    """«Выбрать тему» under the preview: the picker."""
    topic = _button(summary, admin_texts.BUTTON_ADD_TOPIC)
    [picker] = (await bot.press(summary, topic, user_id=ADMIN)).replies
    return picker


async def test_an_existing_category_is_chosen_from_the_preview_and_saved(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    summary = await _to_preview(bot)
    assert admin_texts.add_topic("") in shown_text(summary)
    picker = await _pick(bot, summary)
    assert shown_text(picker) == admin_texts.ask_category(TITLE, "")
    labels = [t for t, _ in TelegramStub.buttons(picker)]
    assert {"HR", "IT", "Офис"} <= set(labels)
    assert labels[-3:] == [
        admin_texts.BUTTON_NO_TOPIC,
        admin_texts.BUTTON_ADD_BACK,
        admin_texts.BUTTON_CANCEL,
    ]
    intro, _, summary = (await bot.press(picker, _button(picker, "HR"), user_id=ADMIN)).replies
    assert shown_text(intro) == admin_texts.ADD_PREVIEW
    assert admin_texts.add_topic("HR") in shown_text(summary)
    # The picker again offers the others and «Без темы», not the one chosen.
    picker = await _pick(bot, summary)
    assert shown_text(picker) == admin_texts.ask_category(TITLE, "HR")
    assert "HR" not in [t for t, _ in TelegramStub.buttons(picker)]
    # «Назад» from the picker: the preview again, the category kept.
    back = _button(picker, admin_texts.BUTTON_ADD_BACK)
    *_, summary = (await bot.press(picker, back, user_id=ADMIN)).replies
    assert admin_texts.add_topic("HR") in shown_text(summary)
    saved = await bot.press(summary, _button(summary, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert shown_text(saved.replies[0]) == f"Статья «{TITLE}» сохранена, поиск уже её находит."
    article_id = await bot.article_id(TITLE)
    assert await bot.category_of(article_id) == "HR"
    [card] = await _say(bot, f"/articles #{article_id}")
    assert "Тема: HR" in shown_text(card)
    assert admin_texts.topic_button("HR") in [t for t, _ in TelegramStub.buttons(card)]


async def test_a_new_category_is_typed_and_an_existing_one_in_other_case_is_that_one(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    summary = await _to_preview(bot)
    await _pick(bot, summary)
    [too_long] = await _say(bot, "Т" * 101)
    assert shown_text(too_long) == admin_texts.CATEGORY_TOO_LONG
    *_, summary = await _say(bot, "  офис  ")
    assert admin_texts.add_topic("Офис") in shown_text(summary)
    await _pick(bot, summary)
    *_, summary = await _say(bot, "Спорт и  здоровье")
    assert admin_texts.add_topic("Спорт и здоровье") in shown_text(summary)
    await bot.press(summary, _button(summary, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert await bot.category_of(await bot.article_id(TITLE)) == "Спорт и здоровье"


async def test_no_category_clears_the_one_chosen(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    summary = await _to_preview(bot)
    picker = await _pick(bot, summary)
    *_, summary = (await bot.press(picker, _button(picker, "IT"), user_id=ADMIN)).replies
    picker = await _pick(bot, summary)
    none = _button(picker, admin_texts.BUTTON_NO_TOPIC)
    *_, summary = (await bot.press(picker, none, user_id=ADMIN)).replies
    assert admin_texts.add_topic("") in shown_text(summary)
    await bot.press(summary, _button(summary, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    article_id = await bot.article_id(TITLE)
    assert await bot.category_of(article_id) == ""
    [card] = await _say(bot, f"/articles #{article_id}")
    assert admin_texts.BUTTON_NO_TOPIC_SET in [t for t, _ in TelegramStub.buttons(card)]


async def test_a_forged_or_stale_category_button_changes_nothing(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    it_holder = await bot.article_id("Инструкция по получению логов")
    summary = await _to_preview(bot)
    # Not at the picker: refused as a stale /add button.
    at_preview = AdminAddTopic(like=it_holder, tag=topic_tag("IT")).pack()
    assert (await bot.press(summary, at_preview, user_id=ADMIN)).alert == admin_texts.ADD_STALE
    picker = await _pick(bot, summary)
    # A tag that is not the holder's category, or a holder that does not exist.
    for forged in (
        AdminAddTopic(like=it_holder, tag=topic_tag("HR")),
        AdminAddTopic(like=9999, tag=topic_tag("IT")),
        AdminAddTopic(like=0, tag=topic_tag("IT")),
    ):
        pressed = await bot.press(picker, forged.pack(), user_id=ADMIN)
        assert pressed.alert == admin_texts.STALE_TOPIC, forged
        assert pressed.replies == []
    # Still at the picker: a typed category is taken.
    *_, summary = await _say(bot, "IT")
    assert admin_texts.add_topic("IT") in shown_text(summary)


async def test_a_paused_picker_resumes_and_takes_the_category(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    summary = await _to_preview(bot)
    picker = await _pick(bot, summary)
    _, paused = await _say(bot, "/help")
    assert shown_text(paused) == admin_texts.add_paused(TITLE)
    *_, summary = (await bot.press(picker, _button(picker, "IT"), user_id=ADMIN)).replies
    assert admin_texts.add_topic("IT") in shown_text(summary)
    await bot.press(summary, _button(summary, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert await bot.category_of(await bot.article_id(TITLE)) == "IT"
