"""An article's card through an admin's day: its category, opening it by number, search by
relevance, edits previewed and the card refreshed in place, deletion for good after archive."""

from __future__ import annotations

import re

from bot.keyboards import AdminAction, AdminCard, AdminEdit, AdminTopic, topic_tag
from bot.texts import admin as admin_texts
from tests.fakes.harness import BotHarness, LaunchBot, launch_admin_bot
from tests.fakes.people import ADMIN
from tests.fakes.replies import sent_text, shown_text
from tests.fakes.samples import PASSWORD_ARTICLE, PASSWORD_QUESTION
from tests.fakes.telegram import Call, Fault, TelegramStub

LOGS_ARTICLE = "Инструкция по получению логов"
VPN_ARTICLE = "Подключение к корпоративному VPN"


def _data(source: Call | dict[str, object], text: str) -> str:
    """The callback data of the button labelled `text` (under a call or a message as shown)."""
    found = [d for t, d in TelegramStub.buttons(source) if t == text]
    assert found, (text, TelegramStub.buttons(source))
    return found[0]


async def _open(bot: BotHarness, title: str) -> Call:
    """The article's card, opened with /articles #<id>."""
    [card] = await bot.say(f"/articles #{await bot.article_id(title)}", user_id=ADMIN)
    assert shown_text(card).startswith(title)
    return card


async def _titles_listed(bot: BotHarness, words: str) -> list[str]:
    [listing] = await bot.say(f"/articles {words}", user_id=ADMIN)
    labels = [t for t, d in TelegramStub.buttons(listing) if d.startswith("ac:")]
    # Each is «№<id> · <title>»: the number `/articles <id>` opens.
    assert all(re.match(r"№\d+ · ", label) for label in labels), labels
    return [re.sub(r"^№\d+ · ", "", label) for label in labels]


async def test_a_category_is_chosen_typed_and_cleared_and_lists_its_articles(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    card = await _open(bot, PASSWORD_ARTICLE)
    assert "Тема: IT" in shown_text(card)
    [choice] = (await bot.press(card, _data(card, "Тема: IT"), user_id=ADMIN)).replies
    assert shown_text(choice).startswith(f"Тема статьи «{PASSWORD_ARTICLE}»: IT.")
    assert [t for t, _ in TelegramStub.buttons(choice)] == [
        "HR",
        "Офис",
        admin_texts.BUTTON_NO_TOPIC,
        admin_texts.BUTTON_BACK_TO_ARTICLE,
    ]
    press = await bot.press(choice, _data(choice, "HR"), user_id=ADMIN)
    assert press.answer.params.get("text") == f"Тема статьи «{PASSWORD_ARTICLE}»: HR."
    shown = bot.current(card)
    assert "Тема: HR" in shown_text(shown) and "Тема: HR" in dict(TelegramStub.buttons(shown))

    # «/articles hr»: a category's name (any case) lists that category, not the text search.
    [hr] = await bot.say("/articles hr", user_id=ADMIN)
    assert shown_text(hr) == "Тема «HR»: 16 статей. Страница 1 из 2."
    password_id = await bot.article_id(PASSWORD_ARTICLE)
    assert f"№{password_id} · {PASSWORD_ARTICLE}" in [t for t, _ in TelegramStub.buttons(hr)]
    assert PASSWORD_ARTICLE not in await _titles_listed(bot, "IT")

    # A new category is typed; /start lists the topics there are.
    await bot.press(card, _data(bot.current(card), "Тема: HR"), user_id=ADMIN)
    said, refreshed = await bot.say("Бухгалтерия", user_id=ADMIN)
    assert shown_text(said) == f"Тема статьи «{PASSWORD_ARTICLE}»: Бухгалтерия."
    # The card above is edited, not sent again.
    assert refreshed.method == "editMessageText"
    assert refreshed.params["message_id"] == card.result["message_id"]
    assert "Тема: Бухгалтерия" in shown_text(bot.current(card))
    start = await bot.ask("/start")
    assert "Темы: IT, HR, Офис, Бухгалтерия." in shown_text(start)
    assert await _titles_listed(bot, "бухгалтерия") == [PASSWORD_ARTICLE]

    # «Без темы»; a topic only an archived article holds is not advertised.
    [choice] = (
        await bot.press(card, _data(bot.current(card), "Тема: Бухгалтерия"), user_id=ADMIN)
    ).replies
    await bot.press(choice, _data(choice, admin_texts.BUTTON_NO_TOPIC), user_id=ADMIN)
    assert "Тема: не задана" in shown_text(bot.current(card))
    start = await bot.ask("/start")
    assert "Бухгалтерия" not in shown_text(start)
    [audit] = await bot.say("/audit", user_id=ADMIN)
    assert shown_text(audit).count("новая тема") == 3


async def test_an_article_is_deleted_for_good_only_from_the_archive_after_a_question(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id = await bot.article_id(PASSWORD_ARTICLE)
    reply = await bot.ask(PASSWORD_QUESTION)
    (_, helpful), _ = TelegramStub.buttons(reply)
    await bot.press(reply, helpful)
    card = await _open(bot, PASSWORD_ARTICLE)
    assert admin_texts.BUTTON_DELETE not in dict(TelegramStub.buttons(card))
    # An active article is not deleted, even by a forged button.
    purge = AdminAction(action="purge", article_id=article_id).pack()
    refused = await bot.press(card, purge, user_id=ADMIN)
    assert refused.alert == admin_texts.DELETE_ONLY_ARCHIVED
    assert await bot.title_of(article_id) == PASSWORD_ARTICLE

    await bot.press(card, _data(card, admin_texts.BUTTON_ARCHIVE), user_id=ADMIN)
    asked = await bot.press(
        card, _data(bot.current(card), admin_texts.BUTTON_DELETE), user_id=ADMIN
    )
    question = shown_text(bot.current(card))
    assert asked.replies and question.startswith(
        f"Удалить статью «{PASSWORD_ARTICLE}» навсегда? Вернуть её будет нельзя."
    )
    assert "отзывы 👍/👎 о ней (1)" in question and "(1), останутся в журнале" in question
    assert await bot.title_of(article_id) == PASSWORD_ARTICLE  # only asked so far

    await bot.press(
        card, _data(bot.current(card), admin_texts.BUTTON_DELETE_CONFIRM), user_id=ADMIN
    )
    assert shown_text(bot.current(card)) == f"Статья «{PASSWORD_ARTICLE}» удалена навсегда."
    assert await bot.title_of(article_id) is None
    # The question stays in the log without its link; the vote about the article is gone.
    [logged] = await bot.queries()
    assert logged.text == PASSWORD_QUESTION and logged.article_id is None
    assert await bot.feedback() == []
    # Gone from search, from the lists and from the archive; the audit names it.
    assert not shown_text(await bot.ask(PASSWORD_QUESTION)).startswith(PASSWORD_ARTICLE)
    assert PASSWORD_ARTICLE not in await _titles_listed(bot, "пароль")
    [archive] = await bot.say("/archive", user_id=ADMIN)
    assert shown_text(archive) == admin_texts.NO_ARCHIVED
    [audit] = await bot.say("/audit", user_id=ADMIN)
    newest = shown_text(audit).splitlines()[0]
    assert f"«{PASSWORD_ARTICLE}» — удалена навсегда" in newest
    # A second press and the card's old number say the article is gone.
    again = await bot.press(card, purge, user_id=ADMIN)
    assert again.alert == admin_texts.ARTICLE_MISSING
    [missing] = await bot.say(f"/articles #{article_id}", user_id=ADMIN)
    assert shown_text(missing) == f"Статьи №{article_id} нет."


async def test_a_number_opens_the_article_and_words_come_by_relevance(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id = await bot.article_id(LOGS_ARTICLE)
    for words in (str(article_id), f"#{article_id}"):
        [card] = await bot.say(f"/articles {words}", user_id=ADMIN)
        assert shown_text(card).startswith(LOGS_ARTICLE), words
        assert admin_texts.BUTTON_BODY in dict(TelegramStub.buttons(card))
    [none] = await bot.say("/articles #9999", user_id=ADMIN)
    assert shown_text(none) == "Статьи №9999 нет."
    [neither] = await bot.say("/articles 9999", user_id=ADMIN)
    assert shown_text(neither) == "Статьи №9999 нет, и по словам «9999» ничего не найдено."
    # A number that is no article's is searched as a word (an error code).
    assert "Описание ошибки доступа 403" in await _titles_listed(bot, "403")

    # By title the VPN article would be fourth and the logs article third.
    assert (await _titles_listed(bot, "VPN"))[0] == VPN_ARTICLE
    assert (await _titles_listed(bot, "логи"))[0] == LOGS_ARTICLE
    assert (await _titles_listed(bot, "как оформить ОТПУСК"))[0] == "Как оформить отпуск"


async def test_an_edit_is_previewed_then_saved_into_the_card_in_place(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id = await bot.article_id(PASSWORD_ARTICLE)
    card = await _open(bot, PASSWORD_ARTICLE)
    before = shown_text(card)
    await bot.press(card, _data(card, admin_texts.BUTTON_BODY), user_id=ADMIN)
    text = "Стоимость: 500 ₽. Меняйте пароль на портале."
    bold = {"type": "bold", "offset": 0, "length": len("Стоимость: 500 ₽")}
    [preview] = await bot.say_formatted(text, [bold], user_id=ADMIN)
    assert sent_text(preview).startswith(admin_texts.PREVIEW_BODY)
    assert "<b>Стоимость: 500 ₽</b>" in sent_text(preview)
    assert [t for t, _ in TelegramStub.buttons(preview)] == [
        admin_texts.BUTTON_SAVE,
        admin_texts.BUTTON_EDIT_AGAIN,
        admin_texts.BUTTON_CANCEL,
    ]
    # Nothing is stored before «Сохранить».
    assert shown_text(bot.current(card)) == before
    assert "500" not in str(await bot.body_of(article_id))

    # «Изменить ещё раз»: the text is asked again, and a new preview comes.
    again = await bot.press(preview, _data(preview, admin_texts.BUTTON_EDIT_AGAIN), user_id=ADMIN)
    assert shown_text(bot.current(preview)).startswith("Пришлите новый текст статьи")
    assert again.answer.error is None
    text = "Стоимость: 700 ₽. Меняйте пароль на портале."
    [preview] = await bot.say_formatted(text, [bold], user_id=ADMIN)
    saved = await bot.press(preview, _data(preview, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert saved.answer.params.get("text") == admin_texts.SAVED
    # The card above is the article now, with its formatting; no bare «Сохранено.».
    shown = bot.current(card)
    assert text in shown_text(shown) and "500" not in shown_text(shown)
    assert "bold" in [e["type"] for e in shown.get("entities", [])]
    assert shown_text(bot.current(preview)) == (
        f"Сохранено: новый текст статьи «{PASSWORD_ARTICLE}». Карточка выше обновлена."
    )
    assert admin_texts.SAVED not in [shown_text(c) for c in saved.replies]
    reply = await bot.ask(PASSWORD_QUESTION)
    assert "<b>Стоимость: 700 ₽</b>" in sent_text(reply)
    # The old preview's buttons are stale now.
    stale = await bot.press(
        preview, AdminEdit(action="save", article_id=article_id).pack(), user_id=ADMIN
    )
    assert stale.alert == admin_texts.EDIT_STALE

    # A new title: previewed, then «Отмена» keeps the old one.
    await bot.press(card, _data(bot.current(card), admin_texts.BUTTON_TITLE), user_id=ADMIN)
    [preview] = await bot.say("Пароль: как сменить", user_id=ADMIN)
    assert shown_text(preview).startswith(f"{admin_texts.PREVIEW_TITLE}\n\nПароль: как сменить")
    await bot.press(preview, _data(preview, admin_texts.BUTTON_CANCEL), user_id=ADMIN)
    assert shown_text(bot.current(preview)) == (
        f"Изменение заголовка статьи «{PASSWORD_ARTICLE}» отменено."
    )
    assert await bot.title_of(article_id) == PASSWORD_ARTICLE


async def test_stale_forged_and_odd_input_get_a_clear_answer(launch_bot: LaunchBot) -> None:
    bot = await launch_admin_bot(launch_bot)
    article_id = await bot.article_id(PASSWORD_ARTICLE)
    card = await _open(bot, PASSWORD_ARTICLE)
    holder = await bot.article_id(LOGS_ARTICLE)  # holds IT
    wrong_tag = AdminTopic(article_id=article_id, like=holder, tag=topic_tag("HR")).pack()
    assert (await bot.press(card, wrong_tag, user_id=ADMIN)).alert == admin_texts.STALE_TOPIC
    no_preview = AdminEdit(action="save", article_id=article_id).pack()
    assert (await bot.press(card, no_preview, user_id=ADMIN)).alert == admin_texts.EDIT_STALE
    gone = AdminCard(article_id=9999).pack()
    assert (await bot.press(card, gone, user_id=ADMIN)).alert == admin_texts.ARTICLE_MISSING
    delete = AdminAction(action="delete", article_id=article_id).pack()
    refused = await bot.press(card, delete, user_id=ADMIN)
    assert refused.alert == admin_texts.DELETE_ONLY_ARCHIVED and refused.replies == []

    # A sticker or a stray text while a preview waits loses nothing: «Сохранить» still works.
    await bot.press(card, _data(card, admin_texts.BUTTON_TITLE), user_id=ADMIN)
    [preview] = await bot.say("Смена пароля за минуту", user_id=ADMIN)
    [sticker] = await bot.send(bot.stub.push_sticker, ADMIN)
    assert shown_text(sticker) == admin_texts.PREVIEW_WAITING
    [stray] = await bot.say("а ещё", user_id=ADMIN)
    assert shown_text(stray) == admin_texts.PREVIEW_WAITING
    await bot.press(preview, _data(preview, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert await bot.title_of(article_id) == "Смена пароля за минуту"
    assert shown_text(bot.current(card)).startswith("Смена пароля за минуту")

    # A text of 10 000 characters: previewed within one message, saying it comes in several.
    await bot.press(card, _data(bot.current(card), admin_texts.BUTTON_BODY), user_id=ADMIN)
    long_body = "Очень длинная инструкция. " * 385
    [preview] = await bot.say(long_body, user_id=ADMIN)
    assert shown_text(preview).startswith(f"{admin_texts.PREVIEW_BODY}\n\nСмена пароля за минуту")
    assert shown_text(preview).endswith("сотрудники получат её несколькими сообщениями.")
    await bot.press(preview, _data(preview, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert await bot.body_of(article_id) == long_body.strip()

    # /cancel during a preview names the edit and stores nothing.
    await bot.press(card, _data(bot.current(card), admin_texts.BUTTON_TITLE), user_id=ADMIN)
    [preview] = await bot.say("Другой заголовок", user_id=ADMIN)
    [cancelled] = await bot.say("/cancel", user_id=ADMIN)
    assert shown_text(cancelled) == "Изменение заголовка статьи «Смена пароля за минуту» отменено."
    assert await bot.title_of(article_id) == "Смена пароля за минуту"
    late = await bot.press(preview, _data(preview, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    assert late.alert == admin_texts.EDIT_STALE

    # A category of 101 characters is refused, and the dialog waits for a shorter one.
    await bot.press(card, _data(bot.current(card), "Тема: IT"), user_id=ADMIN)
    [long] = await bot.say("Т" * 101, user_id=ADMIN)
    assert shown_text(long) == admin_texts.CATEGORY_TOO_LONG
    set_, _ = await bot.say("Доступы", user_id=ADMIN)
    assert shown_text(set_) == "Тема статьи «Смена пароля за минуту»: Доступы."


async def test_a_card_that_cannot_be_edited_is_sent_afresh_after_saving(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_admin_bot(launch_bot)
    card = await _open(bot, PASSWORD_ARTICLE)
    await bot.press(card, _data(card, admin_texts.BUTTON_PHRASINGS), user_id=ADMIN)
    screen = bot.current(card)
    await bot.press(card, _data(screen, admin_texts.BUTTON_ADD_PHRASINGS), user_id=ADMIN)
    [preview] = await bot.say("пароль протух\nне пускает в почту", user_id=ADMIN)
    # The card message is gone (deleted in the chat, say): Telegram refuses to edit it.
    bot.stub.fail_next(
        "editMessageText", Fault("bad_request", description="message to edit not found")
    )
    bot.expected_errors.append("message to edit not found")
    saved = await bot.press(preview, _data(preview, admin_texts.BUTTON_SAVE), user_id=ADMIN)
    [fresh] = [c for c in saved.replies if c.method == "sendMessage"]
    assert shown_text(fresh).startswith(PASSWORD_ARTICLE)
    assert "• пароль протух (админ)" in shown_text(fresh)
    assert admin_texts.BUTTON_BODY in dict(TelegramStub.buttons(fresh))
    assert shown_text(bot.current(preview)) == (
        f"Сохранено: новые фразы статьи «{PASSWORD_ARTICLE}». Обновлённая карточка — ниже."
    )
