"""Admins keep the base from Telegram: the list, a card, editing, phrasings, archive, audit;
and nobody else can."""

from __future__ import annotations

import re

from aiogram.fsm.storage.base import StorageKey  # noqa: F401 - documents where state lives

from bot.keyboards import (
    AdminAction,
    AdminCard,
    AdminDeletePhrasing,
    AdminEdit,
    AdminPage,
    AdminTopic,
    topic_tag,
)
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from tests.fakes.harness import BotHarness, LaunchBot, Press, launch_admin_bot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import shown_text
from tests.fakes.samples import PASSWORD_ARTICLE, PASSWORD_QUESTION
from tests.fakes.telegram import Call, TelegramStub


def _titles(listing: Call) -> list[str]:
    """The titles of a list's articles, their «№<id> · » taken off."""
    return [
        re.sub(r"^№\d+ · ", "", t) for t, d in TelegramStub.buttons(listing) if d.startswith("ac:")
    ]


async def _card(bot: BotHarness, title_words: str, title: str) -> Call:
    """/articles <words>, then the card of `title` from the list."""
    [listing] = await bot.say(f"/articles {title_words}", user_id=ADMIN)
    label = f"№{await bot.article_id(title)} · {title}"
    data = next(d for text, d in TelegramStub.buttons(listing) if text == label)
    press = await bot.press(listing, data, user_id=ADMIN)
    [card] = press.replies
    return card


async def _save(bot: BotHarness, preview: Call) -> Press:
    """«Сохранить» under an edit's preview."""
    save = next(d for t, d in TelegramStub.buttons(preview) if t == admin_texts.BUTTON_SAVE)
    return await bot.press(preview, save, user_id=ADMIN)


async def _answered_title(bot: BotHarness, question: str) -> str:
    reply = await bot.ask(question)
    return str(reply.result["text"]).split("\n", 1)[0]


async def test_the_list_pages_through_the_base_ten_at_a_time(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    [first] = await bot.say("/articles", user_id=ADMIN)
    topics = "Темы: IT — 25, HR — 15, Офис — 10. Статьи одной темы: /articles IT."
    assert shown_text(first) == f"В базе: 50 статей. Страница 1 из 5.\n\n{topics}"
    buttons = TelegramStub.buttons(first)
    assert len(buttons) == 11 and buttons[-1] == (
        admin_texts.BUTTON_NEXT,
        AdminPage(page=1).pack(),
    )
    press = await bot.press(first, buttons[-1][1], user_id=ADMIN)
    [second] = press.replies
    assert shown_text(second) == f"В базе: 50 статей. Страница 2 из 5.\n\n{topics}"
    assert [t for t, _ in TelegramStub.buttons(second)][-2:] == [
        admin_texts.BUTTON_PREVIOUS,
        admin_texts.BUTTON_NEXT,
    ]
    [found] = await bot.say("/articles ПАРОЛ", user_id=ADMIN)
    assert shown_text(found).startswith("По словам «ПАРОЛ» найдено:")
    assert PASSWORD_ARTICLE in _titles(found)
    [none] = await bot.say("/articles абракадабра", user_id=ADMIN)
    assert shown_text(none) == "По словам «абракадабра» статей не найдено."


async def test_a_card_shows_phrasings_with_their_source_and_the_numbers(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    reply = await bot.ask(PASSWORD_QUESTION)
    (_, helpful), _ = TelegramStub.buttons(reply)
    await bot.press(reply, helpful)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    shown = shown_text(card)
    assert shown.startswith(PASSWORD_ARTICLE)
    # The number `/articles 5` opens: the card says it, and opening by it gives this card.
    number = await bot.article_id(PASSWORD_ARTICLE)
    assert shown.splitlines()[1] == f"№{number} · Тема: IT"
    [by_number] = await bot.say(f"/articles {number}", user_id=ADMIN)
    assert shown_text(by_number) == shown
    assert f"{PASSWORD_ARTICLE} (заголовок)" in shown
    assert "(импорт)" in shown
    assert "Ответов этой статьёй: 1; 👍 1, 👎 0." in shown
    assert [t for t, _ in TelegramStub.buttons(card)] == [
        admin_texts.BUTTON_TITLE,
        admin_texts.BUTTON_BODY,
        admin_texts.BUTTON_PHRASINGS,
        "Тема: IT",
        admin_texts.BUTTON_ARCHIVE,
        admin_texts.BUTTON_BACK,
    ]


async def test_archiving_hides_an_article_at_once_and_restoring_brings_it_back(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    assert await _answered_title(bot, PASSWORD_QUESTION) == PASSWORD_ARTICLE
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    archive = AdminAction(action="archive", article_id=await bot.article_id(PASSWORD_ARTICLE))
    press = await bot.press(card, archive.pack(), user_id=ADMIN)
    assert admin_texts.done(admin_texts.ARCHIVED, title=PASSWORD_ARTICLE) in [
        str(c.params["text"]) for c in press.replies
    ]
    # No periodic refresh needed: the next question already misses it.
    assert await _answered_title(bot, PASSWORD_QUESTION) != PASSWORD_ARTICLE

    [archived] = await bot.say("/archive", user_id=ADMIN)
    assert shown_text(archived) == "В архиве: 1 статья. Страница 1 из 1."
    [(title, data)] = TelegramStub.buttons(archived)
    assert title == f"№{await bot.article_id(PASSWORD_ARTICLE)} · {PASSWORD_ARTICLE}"
    opened = await bot.press(archived, data, user_id=ADMIN)
    [card] = opened.replies
    assert "в архиве" in shown_text(card)
    restore = next(d for t, d in TelegramStub.buttons(card) if t == admin_texts.BUTTON_RESTORE)
    await bot.press(card, restore, user_id=ADMIN)
    assert await _answered_title(bot, PASSWORD_QUESTION) == PASSWORD_ARTICLE
    # Phrasings and feedback survived the round trip; the audit has both changes.
    [log] = await bot.say("/audit", user_id=ADMIN)
    lines = shown_text(log).splitlines()
    assert len(lines) == 2
    assert "из архива" in lines[0] and "в архив" in lines[1]
    assert all(str(ADMIN) in line and PASSWORD_ARTICLE in line for line in lines)


async def test_a_new_text_is_what_the_next_person_reads(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    body = next(d for t, d in TelegramStub.buttons(card) if t == admin_texts.BUTTON_BODY)
    press = await bot.press(card, body, user_id=ADMIN)
    assert shown_text(press.replies[0]).startswith("Пришлите новый текст статьи")
    [preview] = await bot.say("Пароль меняют на портале id.example.com <за минуту>.", user_id=ADMIN)
    assert shown_text(preview).startswith(admin_texts.PREVIEW_BODY)
    await _save(bot, preview)
    reply = await bot.ask(PASSWORD_QUESTION)
    assert (
        shown_text(reply)
        == f"{PASSWORD_ARTICLE}\n\nПароль меняют на портале id.example.com <за минуту>."
    )


async def test_a_renamed_article_is_found_by_its_new_title(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    rename = next(d for t, d in TelegramStub.buttons(card) if t == admin_texts.BUTTON_TITLE)
    await bot.press(card, rename, user_id=ADMIN)
    taken = "Инструкция по получению логов"
    [refused] = await bot.say(taken, user_id=ADMIN)
    assert shown_text(refused) == admin_texts.TITLE_TAKEN
    [preview] = await bot.say("Смена пароля в корпоративной учётной записи", user_id=ADMIN)
    assert shown_text(preview).startswith(admin_texts.PREVIEW_TITLE)
    await _save(bot, preview)
    title = await _answered_title(bot, "смена пароля в корпоративной учётной записи")
    assert title == "Смена пароля в корпоративной учётной записи"


async def test_phrasings_are_added_and_a_wrong_one_deleted(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id = await bot.article_id(PASSWORD_ARTICLE)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    press = await bot.press(
        card, AdminAction(action="phrasings", article_id=article_id).pack(), user_id=ADMIN
    )
    [screen] = press.replies
    assert shown_text(screen).startswith(f"Фразы статьи «{PASSWORD_ARTICLE}»")
    add = next(d for t, d in TelegramStub.buttons(screen) if t == admin_texts.BUTTON_ADD_PHRASINGS)
    await bot.press(screen, add, user_id=ADMIN)
    [preview] = await bot.say(
        "забыл пароль от почты\n\nзабыл пароль от почты\nпароль протух", user_id=ADMIN
    )
    assert shown_text(preview).startswith(f"Новые фразы для статьи «{PASSWORD_ARTICLE}» (2):")
    await _save(bot, preview)
    screen_data = AdminAction(action="phrasings", article_id=article_id).pack()
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    [screen] = (await bot.press(card, screen_data, user_id=ADMIN)).replies
    wrong = next(d for t, d in TelegramStub.buttons(screen) if t == "✕ пароль протух")
    deleted = await bot.press(screen, wrong, user_id=ADMIN)
    assert deleted.answer.params.get("text") == "Фраза «пароль протух» удалена."
    texts_now = [t for t, _ in TelegramStub.buttons(bot.current(screen))]
    assert "✕ забыл пароль от почты" in texts_now and "✕ пароль протух" not in texts_now


async def test_a_deleted_phrasing_is_no_longer_served(launch_bot: LaunchBot) -> None:
    """An admin's phrasing answers at once, and once deleted answers no more (the live index,
    not only the list of phrasings)."""
    bot = await launch_admin_bot(launch_bot)
    odd = "зелёный слон танцует вальс"  # nothing like any article: found only by its phrasing
    article_id = await bot.article_id(PASSWORD_ARTICLE)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    phrasings = AdminAction(action="phrasings", article_id=article_id).pack()
    [screen] = (await bot.press(card, phrasings, user_id=ADMIN)).replies
    add = next(d for t, d in TelegramStub.buttons(screen) if t == admin_texts.BUTTON_ADD_PHRASINGS)
    await bot.press(screen, add, user_id=ADMIN)
    [preview] = await bot.say(odd, user_id=ADMIN)
    await _save(bot, preview)
    assert await _answered_title(bot, odd) == PASSWORD_ARTICLE
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    [screen] = (await bot.press(card, phrasings, user_id=ADMIN)).replies
    delete = next(d for t, d in TelegramStub.buttons(screen) if t == f"✕ {odd}")
    await bot.press(screen, delete, user_id=ADMIN)
    reply = await bot.ask(odd)
    # Whatever the base makes of it now, the password article is neither the answer nor
    # among the suggestions.
    assert not shown_text(reply).startswith(PASSWORD_ARTICLE)
    assert PASSWORD_ARTICLE not in [text for text, _ in TelegramStub.buttons(reply)]


async def test_cancel_leaves_an_edit_and_nothing_changes(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    rename = next(d for t, d in TelegramStub.buttons(card) if t == admin_texts.BUTTON_TITLE)
    await bot.press(card, rename, user_id=ADMIN)
    [cancelled] = await bot.say("/cancel", user_id=ADMIN)
    assert shown_text(cancelled) == f"Изменение заголовка статьи «{PASSWORD_ARTICLE}» отменено."
    # The next text is a question again, not a title.
    reply = await bot.ask(PASSWORD_QUESTION, user_id=ADMIN)
    assert shown_text(reply).startswith(PASSWORD_ARTICLE)
    assert await bot.title_of(await bot.article_id(PASSWORD_ARTICLE)) == PASSWORD_ARTICLE
    [nothing] = await bot.say("/cancel", user_id=ADMIN)
    assert shown_text(nothing) == admin_texts.NOTHING_TO_CANCEL


async def test_nobody_else_can_use_an_admin_command_or_button(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id = await bot.article_id(PASSWORD_ARTICLE)
    for command in ("/articles", "/articles пароль", "/archive", "/audit", "/cancel"):
        [reply] = await bot.say(command, user_id=USER_ID)
        assert shown_text(reply) == texts.UNKNOWN_COMMAND, command
    message = await bot.ask(PASSWORD_QUESTION)
    phrasing_id = 1
    forged = [
        AdminPage(page=1).pack(),
        AdminPage(page=0, archived=True).pack(),
        AdminCard(article_id=article_id).pack(),
        *(
            AdminAction(action=action, article_id=article_id).pack()
            for action in (
                "archive",
                "restore",
                "title",
                "body",
                "phrasings",
                "add",
                "category",
                "delete",
                "purge",
            )
        ),
        AdminDeletePhrasing(phrasing_id=phrasing_id).pack(),
        AdminTopic(article_id=article_id, like=0, tag=topic_tag("")).pack(),
        AdminEdit(action="save", article_id=article_id).pack(),
    ]
    for data in forged:
        press = await bot.press(message, data, user_id=USER_ID)
        assert press.alert == admin_texts.NOT_FOR_YOU, data
        assert press.replies == [], data
    # Nothing changed: the article answers, its phrasings are all there, no audit entry.
    assert await _answered_title(bot, PASSWORD_QUESTION) == PASSWORD_ARTICLE
    [log] = await bot.say("/audit", user_id=ADMIN)
    assert shown_text(log) == admin_texts.NO_CHANGES


async def test_formatting_written_in_telegram_is_kept_and_typed_html_is_not(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    body = next(d for t, d in TelegramStub.buttons(card) if t == admin_texts.BUTTON_BODY)
    await bot.press(card, body, user_id=ADMIN)
    text = "Откройте портал и нажмите «Сменить». Код <b>не</b> нужен: id-123."
    bold = {"type": "bold", "offset": 0, "length": len("Откройте портал")}
    link = {
        "type": "text_link",
        "offset": text.index("нажмите"),
        "length": len("нажмите"),
        "url": "https://id.example.com/",
    }
    code = {"type": "code", "offset": text.index("id-123"), "length": 6}

    def push(user: int) -> int:
        message = bot.stub.message_from(user, text=text, entities=[bold, link, code])
        return bot.stub.push_update({"message": message})

    [preview] = await bot.send(push, ADMIN)
    # The preview shows the formatting as people will get it.
    assert '<a href="https://id.example.com/">нажмите</a>' in str(preview.params["text"])
    await _save(bot, preview)
    reply = await bot.ask(PASSWORD_QUESTION)
    sent = str(reply.params["text"])
    assert "<b>Откройте портал</b>" in sent
    assert '<a href="https://id.example.com/">нажмите</a>' in sent
    assert "<code>id-123</code>" in sent
    # What the admin typed as "<b>" is text, not markup.
    assert "&lt;b&gt;не&lt;/b&gt;" in sent
    assert shown_text(reply) == f"{PASSWORD_ARTICLE}\n\n{text}"
    shown_types = [e["type"] for e in reply.result["entities"]]
    assert shown_types == ["bold", "bold", "text_link", "code"]


async def test_repeated_presses_and_old_lists_behave(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    # Each list keeps its own filter: the unfiltered list's «Дальше ›» stays unfiltered.
    [everything] = await bot.say("/articles", user_id=ADMIN)
    await bot.say("/articles пароль", user_id=ADMIN)
    press = await bot.press(everything, AdminPage(page=1).pack(), user_id=ADMIN)
    assert shown_text(press.replies[0]).startswith("В базе: 50 статей. Страница 2 из 5.")
    # A second «В архив» says so instead of archiving (and announcing) again.
    card = await _card(bot, "пароль", PASSWORD_ARTICLE)
    archive = AdminAction(action="archive", article_id=await bot.article_id(PASSWORD_ARTICLE))
    await bot.press(card, archive.pack(), user_id=ADMIN)
    again = await bot.press(card, archive.pack(), user_id=ADMIN)
    assert again.answer.params.get("text") == admin_texts.ALREADY_ARCHIVED
    assert again.replies == []
    # A phrasing deleted twice: the second press says the phrasing is gone.
    phrasing = AdminDeletePhrasing(phrasing_id=2).pack()
    first = await bot.press(card, phrasing, user_id=ADMIN)
    assert first.answer.params.get("text", "").startswith("Фраза «")
    second = await bot.press(card, phrasing, user_id=ADMIN)
    assert second.alert == admin_texts.PHRASING_GONE


async def test_help_lists_the_admin_commands_for_admins_only(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    [for_admin] = await bot.say("/help", user_id=ADMIN)
    [for_user] = await bot.say("/help", user_id=USER_ID)
    assert "Для администраторов" in shown_text(for_admin) and "/retrain" in shown_text(for_admin)
    assert "Для администраторов" not in shown_text(for_user)
