"""Admin dialogs that survive interruptions: a command pauses /add, «Назад» fixes a step,
a text meant for a paused draft is never searched silently."""

from __future__ import annotations

import time

import pytest

from bot.handlers.admin import dialogs as dialogs_module
from bot.keyboards import AdminAdd
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from tests.fakes.harness import BotHarness, LaunchBot, launch_admin_bot
from tests.fakes.people import ADMIN
from tests.fakes.replies import shown_text
from tests.fakes.telegram import Call, TelegramStub

TITLE = "Как записаться в корпоративный спортзал"
BODY = "Абонемент оформляют в HR-портале: раздел «Льготы» → «Спорт». Компания платит половину."


async def _say(bot: BotHarness, text: str) -> list[Call]:
    return await bot.say(text, user_id=ADMIN)


def _button(call: Call, label: str) -> str:
    return dict(TelegramStub.buttons(call))[label]


async def test_a_command_pauses_add_and_the_draft_resumes_where_it_was(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    # The command runs, then the admin is told the draft is kept, with «Продолжить».
    log, paused = await _say(bot, "/audit")
    assert shown_text(log) == admin_texts.NO_CHANGES
    assert shown_text(paused) == admin_texts.add_paused(TITLE)
    [(label, resume)] = TelegramStub.buttons(paused)
    assert label == f"Продолжить: «{TITLE}»"
    # Resumed at the step it was at: the text.
    [ask_body] = (await bot.press(paused, resume, user_id=ADMIN)).replies
    assert shown_text(ask_body) == f"Заголовок: «{TITLE}». Теперь пришлите текст статьи."
    [ask_phrasings] = await _say(bot, BODY)
    assert shown_text(ask_phrasings) == admin_texts.ADD_PHRASINGS
    # The same button again: the draft is no longer paused.
    again = await bot.press(paused, resume, user_id=ADMIN)
    assert again.alert == admin_texts.ADD_STALE


async def test_add_offers_the_kept_draft_and_cancel_says_what_it_cancelled(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    [offer] = await _say(bot, "/add")
    assert shown_text(offer) == admin_texts.add_draft_waits(TITLE)
    assert [t for t, _ in TelegramStub.buttons(offer)] == [
        f"Продолжить: «{TITLE}»",
        admin_texts.BUTTON_START_OVER,
    ]
    [ask_body] = (await bot.press(offer, _button(offer, f"Продолжить: «{TITLE}»"), ADMIN)).replies
    assert shown_text(ask_body).startswith(f"Заголовок: «{TITLE}»")
    helped, _ = await _say(bot, "/help")
    assert shown_text(helped).startswith("Как мной пользоваться")
    # Paused, not gone: /cancel names it; only then is there nothing to cancel.
    [cancelled] = await _say(bot, "/cancel")
    assert shown_text(cancelled) == f"Создание статьи «{TITLE}» отменено."
    [nothing] = await _say(bot, "/cancel")
    assert shown_text(nothing) == admin_texts.NOTHING_TO_CANCEL
    [fresh] = await _say(bot, "/add")
    assert shown_text(fresh) == admin_texts.ADD_TITLE


async def test_a_text_after_an_interrupting_command_is_held_for_the_draft(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    await _say(bot, "/help")
    logged = len(await bot.queries())
    [held] = await _say(bot, BODY)
    assert shown_text(held) == admin_texts.add_held(TITLE, "body")
    # Not searched, not logged as a question (so not in /stats).
    assert len(await bot.queries()) == logged
    for_draft = _button(held, admin_texts.BUTTON_HELD_FOR_DRAFT)
    [ask_phrasings] = (await bot.press(held, for_draft, user_id=ADMIN)).replies
    assert shown_text(ask_phrasings) == admin_texts.ADD_PHRASINGS
    skip = _button(ask_phrasings, admin_texts.BUTTON_NO_PHRASINGS)
    _, preview, _ = (await bot.press(ask_phrasings, skip, user_id=ADMIN)).replies
    assert preview.params["text"] == texts.article(TITLE, BODY)


async def test_a_held_text_the_admin_calls_a_question_is_searched_next_time(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    _, paused = await _say(bot, "/help")
    [held] = await _say(bot, "как сбросить пароль?")
    question = _button(held, admin_texts.BUTTON_HELD_QUESTION)
    [told] = (await bot.press(held, question, user_id=ADMIN)).replies
    assert shown_text(told) == admin_texts.ADD_HELD_QUESTION
    reply = await bot.ask("как сбросить пароль?", user_id=ADMIN)
    assert shown_text(reply).startswith("Инструкция по смене пароля")
    assert [(q.user_id, q.text) for q in await bot.queries()][-1] == (
        ADMIN,
        "как сбросить пароль?",
    )
    # The draft still waits behind its button.
    [ask_body] = (await bot.press(paused, TelegramStub.buttons(paused)[0][1], ADMIN)).replies
    assert shown_text(ask_body).startswith(f"Заголовок: «{TITLE}»")


async def test_back_and_the_preview_fix_the_title_and_the_text(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    [ask_title] = await _say(bot, "/add")
    assert [t for t, _ in TelegramStub.buttons(ask_title)] == [admin_texts.BUTTON_CANCEL]
    [ask_body] = await _say(bot, "Спортзал с опечткой")
    assert [t for t, _ in TelegramStub.buttons(ask_body)] == [
        admin_texts.BUTTON_ADD_BACK,
        admin_texts.BUTTON_CANCEL,
    ]
    [ask_phrasings] = await _say(bot, "Черновой текст")
    # Back to the text, shown as it is now; a new one replaces it.
    back = _button(ask_phrasings, admin_texts.BUTTON_ADD_BACK)
    [body_again] = (await bot.press(ask_phrasings, back, user_id=ADMIN)).replies
    assert shown_text(body_again) == admin_texts.add_body_again(
        "Спортзал с опечткой", "Черновой текст"
    )
    # The phrasings step's buttons are of a step the dialog has left.
    stale = await bot.press(ask_phrasings, back, user_id=ADMIN)
    assert stale.alert == admin_texts.ADD_STALE
    [ask_phrasings] = await _say(bot, BODY)
    skip = _button(ask_phrasings, admin_texts.BUTTON_NO_PHRASINGS)
    *_, summary = (await bot.press(ask_phrasings, skip, user_id=ADMIN)).replies
    # From the preview: fix the title; it comes back to the preview, the text kept.
    fix = _button(summary, admin_texts.BUTTON_ADD_FIX_TITLE)
    [title_again] = (await bot.press(summary, fix, user_id=ADMIN)).replies
    assert shown_text(title_again) == admin_texts.add_title_again("Спортзал с опечткой")
    # Still the dialog's checks: a taken title is asked again.
    [taken] = await _say(bot, "Инструкция по смене пароля")
    assert shown_text(taken) == admin_texts.ADD_TITLE_TAKEN
    intro, preview, summary = await _say(bot, TITLE)
    assert shown_text(intro) == admin_texts.ADD_PREVIEW
    assert preview.params["text"] == texts.article(TITLE, BODY)
    # «Назад» from the preview: the phrasings step again.
    back = _button(summary, admin_texts.BUTTON_ADD_BACK)
    [phrasings_again] = (await bot.press(summary, back, user_id=ADMIN)).replies
    assert shown_text(phrasings_again) == admin_texts.ADD_PHRASINGS
    *_, summary = await _say(bot, "скидка на спортзал")
    saved = await bot.press(summary, _button(summary, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert shown_text(saved.replies[0]) == f"Статья «{TITLE}» сохранена, поиск уже её находит."
    assert await bot.body_of(await bot.article_id(TITLE)) == BODY


async def test_a_forged_or_stale_add_button_changes_nothing(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    [ask_title] = await _say(bot, "/add")
    for forged in (
        AdminAdd(step="save", at="preview"),
        AdminAdd(step="back", at="body"),
        AdminAdd(step="resume"),
        AdminAdd(step="held"),
    ):
        pressed = await bot.press(ask_title, forged.pack(), user_id=ADMIN)
        assert pressed.alert == admin_texts.ADD_STALE, forged
    [ask_body] = await _say(bot, TITLE)
    assert shown_text(ask_body).startswith(f"Заголовок: «{TITLE}»")


async def test_the_preview_says_a_long_article_comes_in_several_messages(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    body = "Абонемент оформляют в HR-портале, раздел «Льготы». " * 80
    await _say(bot, "/add")
    await _say(bot, TITLE)
    [ask_phrasings] = await _say(bot, body)
    skip = _button(ask_phrasings, admin_texts.BUTTON_NO_PHRASINGS)
    intro, *parts, summary = (await bot.press(ask_phrasings, skip, user_id=ADMIN)).replies
    assert shown_text(intro) == admin_texts.ADD_PREVIEW
    assert [p.params["text"] for p in parts] == texts.article_parts(TITLE, body.strip())
    assert len(parts) == 2
    assert admin_texts.add_several_messages(2) in shown_text(summary)
    # A short one says nothing of the kind.
    fix = _button(summary, admin_texts.BUTTON_ADD_FIX_BODY)
    await bot.press(summary, fix, user_id=ADMIN)
    _, preview, summary = await _say(bot, BODY)
    assert preview.params["text"] == texts.article(TITLE, BODY)
    assert "несколькими" not in shown_text(summary)


async def test_a_button_of_the_paused_draft_resumes_it(launch_bot: LaunchBot) -> None:
    """The near-copy preview → open the original → a command: «Сохранить» still saves."""
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    [ask_phrasings] = await _say(bot, BODY)
    skip = _button(ask_phrasings, admin_texts.BUTTON_NO_PHRASINGS)
    *_, summary = (await bot.press(ask_phrasings, skip, user_id=ADMIN)).replies
    _, paused = await _say(bot, "/audit")
    assert shown_text(paused) == admin_texts.add_paused(TITLE)
    saved = await bot.press(summary, _button(summary, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert saved.alert is None
    assert shown_text(saved.replies[0]) == f"Статья «{TITLE}» сохранена, поиск уже её находит."
    [nothing] = await _say(bot, "/cancel")
    assert shown_text(nothing) == admin_texts.NOTHING_TO_CANCEL


async def test_editing_the_near_copy_pauses_the_draft_and_its_save_still_works(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    original = "Инструкция по смене пароля"
    draft = "Инструкция по смене пароля."
    await _say(bot, "/add")
    await _say(bot, draft)
    [ask_phrasings] = await _say(bot, "Как сменить пароль: откройте профиль.")
    skip = _button(ask_phrasings, admin_texts.BUTTON_NO_PHRASINGS)
    *_, summary = (await bot.press(ask_phrasings, skip, user_id=ADMIN)).replies
    [card] = (await bot.press(summary, _button(summary, f"Открыть «{original}»"), ADMIN)).replies
    rename = _button(card, admin_texts.BUTTON_TITLE)
    paused, ask = (await bot.press(card, rename, user_id=ADMIN)).replies
    assert shown_text(paused) == admin_texts.add_paused(draft)
    assert shown_text(ask).startswith(f"Пришлите новый заголовок статьи «{original}»")
    [cancelled] = await _say(bot, "/cancel")
    assert shown_text(cancelled) == f"Изменение заголовка статьи «{original}» отменено."
    save = _button(summary, admin_texts.BUTTON_SAVE_ANYWAY)
    saved = await bot.press(summary, save, user_id=ADMIN)
    assert shown_text(saved.replies[0]).startswith(f"Статья «{draft}» сохранена")
    assert await bot.title_of(await bot.article_id(original)) == original


async def test_a_paused_draft_left_for_a_day_expires_when_resumed(
    launch_bot: LaunchBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await launch_admin_bot(launch_bot)
    await _say(bot, "/add")
    await _say(bot, TITLE)
    _, paused = await _say(bot, "/help")
    now = time.time()
    monkeypatch.setattr(dialogs_module.time, "time", lambda: now + 25 * 3600)
    [expired] = (await bot.press(paused, TelegramStub.buttons(paused)[0][1], ADMIN)).replies
    assert shown_text(expired) == admin_texts.DIALOG_EXPIRED
    [nothing] = await _say(bot, "/cancel")
    assert shown_text(nothing) == admin_texts.NOTHING_TO_CANCEL
