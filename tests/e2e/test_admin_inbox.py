"""/unanswered: what the base could not answer, grouped; attach, create, dismiss."""

from __future__ import annotations

from bot.keyboards import AdminAdd, AdminInbox
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.storage.articles import ArticleRepository
from tests.fakes.harness import FORCE_ANSWER, FORCE_NOTHING, BotHarness, LaunchBot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import shown_text
from tests.fakes.telegram import Call, TelegramStub

GYM = [
    (101, "есть ли у компании корпоративный спортзал"),
    (102, "корпоративный спортзал для сотрудников есть?"),
    (101, "есть ли у нас корпоративный спортзал"),
]
CANTEEN = (103, "какое меню в столовой на этой неделе")


async def _ask_all(bot: BotHarness) -> None:
    for user, question in [*GYM, CANTEEN]:
        bot.stub.open_chat(user)
        await bot.say(question, user_id=user)


async def _groups(bot: BotHarness) -> list[Call]:
    header, *groups = [
        c for c in await bot.say("/unanswered", user_id=ADMIN) if c.method == "sendMessage"
    ]
    assert shown_text(header) == "Без ответа: 4 вопроса, похожие собраны в группы (2)."
    return groups


async def test_a_group_attached_to_an_article_reaches_each_asker_once(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, canteen = await _groups(bot)
    assert shown_text(gym).startswith("1. 3 вопроса, 2 человека")
    assert shown_text(canteen).startswith("2. 1 вопрос, 1 человек")
    [(attach_label, attach), (choose_label, _), (create_label, _), (dismiss_label, dismiss)] = (
        TelegramStub.buttons(gym)
    )
    assert (choose_label, create_label, dismiss_label) == (
        admin_texts.BUTTON_CHOOSE,
        admin_texts.BUTTON_CREATE,
        admin_texts.BUTTON_DISMISS,
    )
    assert attach_label.startswith("Привязать к «")
    title = attach_label.removeprefix("Привязать к «").removesuffix("»")
    mark = bot.stub.mark()
    press = await bot.press(gym, attach, user_id=ADMIN)
    assert shown_text(press.replies[-1]).startswith(
        f"Привязано к «{title}»: 3 вопроса стали фразами"
    )
    # Two people asked (one of them twice): each gets the note and the article, once.
    for user in (101, 102):
        note, article = [c for c in bot.replies(after=mark, user_id=user)]
        assert shown_text(note).startswith("Нашёлся ответ на ваш вопрос «")
        assert shown_text(article).startswith(title)
        (_, helpful), _ = TelegramStub.buttons(article)
        rated = await bot.press(article, helpful, user_id=user)
        assert rated.answer.params.get("text") == texts.THANKS_HELPFUL  # accepted: offered now
    # Dismiss the other group; the inbox is then empty.
    [(_, _), (_, _), (_, _), (_, dismiss)] = TelegramStub.buttons(canteen)
    dismissed = await bot.press(canteen, dismiss, user_id=ADMIN)
    assert shown_text(dismissed.replies[0]) == "Группа отклонена: 1 вопрос вне темы базы."
    [empty] = await bot.say("/unanswered", user_id=ADMIN)
    assert shown_text(empty) == admin_texts.INBOX_EMPTY
    # The questions are now phrasings of the article, served at once.
    async with bot.session_factory() as session:
        phrasings = await ArticleRepository(session).active_phrasings()
    learned = {p.text: p for p in phrasings if p.source == "feedback"}
    assert set(learned) == {q for _, q in GYM}
    assert {await bot.title_of(p.article_id) for p in learned.values()} == {title}


async def test_create_an_article_from_a_group(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    create = TelegramStub.buttons(gym)[2][1]
    [ask_title] = (await bot.press(gym, create, user_id=ADMIN)).replies
    assert shown_text(ask_title) == admin_texts.ADD_TITLE
    await bot.say("Корпоративный спортзал", user_id=ADMIN)
    [ask_phrasings] = await bot.say("Спортзал на 3 этаже, вход по пропуску.", user_id=ADMIN)
    press = await bot.press(
        ask_phrasings, AdminAdd(step="skip", at="phrasings").pack(), user_id=ADMIN
    )
    *_, summary = press.replies
    assert f"Фразы: {GYM[0][1]}" in shown_text(summary)
    mark = bot.stub.mark()
    save = next(d for t, d in TelegramStub.buttons(summary) if t.startswith("Сохранить"))
    saved = await bot.press(summary, save, user_id=ADMIN)
    assert any(
        shown_text(c).startswith("Привязано к «Корпоративный спортзал»") for c in saved.replies
    )
    assert [shown_text(c) for c in bot.replies(after=mark, user_id=102)][1].startswith(
        "Корпоративный спортзал"
    )


async def test_the_groups_survive_another_dialog(launch_bot: LaunchBot) -> None:
    """Starting and cancelling «Создать статью» (or /add) keeps the other groups' buttons."""
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, canteen = await _groups(bot)
    create = TelegramStub.buttons(gym)[2][1]
    [ask_title] = (await bot.press(gym, create, user_id=ADMIN)).replies
    cancel = dict(TelegramStub.buttons(ask_title))[admin_texts.BUTTON_CANCEL]
    cancelled = await bot.press(ask_title, cancel, user_id=ADMIN)
    assert shown_text(cancelled.replies[0]) == admin_texts.ADD_CANCELLED_UNTITLED
    await bot.say("/add", user_id=ADMIN)
    [gone] = await bot.say("/cancel", user_id=ADMIN)
    assert shown_text(gone) == admin_texts.ADD_CANCELLED_UNTITLED
    dismiss = TelegramStub.buttons(canteen)[-1][1]
    dismissed = await bot.press(canteen, dismiss, user_id=ADMIN)
    assert dismissed.alert is None
    assert shown_text(dismissed.replies[0]) == "Группа отклонена: 1 вопрос вне темы базы."


async def test_create_from_a_group_offers_the_kept_draft_first(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    await bot.say("/add", user_id=ADMIN)
    await bot.say("Черновик без конца", user_id=ADMIN)
    create = TelegramStub.buttons(gym)[2][1]
    [offer] = (await bot.press(gym, create, user_id=ADMIN)).replies
    assert shown_text(offer) == admin_texts.add_draft_waits("Черновик без конца")
    start_over = dict(TelegramStub.buttons(offer))[admin_texts.BUTTON_START_OVER]
    [ask_title] = (await bot.press(offer, start_over, user_id=ADMIN)).replies
    assert shown_text(ask_title) == admin_texts.ADD_TITLE
    await bot.say("Корпоративный спортзал", user_id=ADMIN)
    [ask_phrasings] = await bot.say("Спортзал на 3 этаже, вход по пропуску.", user_id=ADMIN)
    skip = dict(TelegramStub.buttons(ask_phrasings))[admin_texts.BUTTON_NO_PHRASINGS]
    *_, summary = (await bot.press(ask_phrasings, skip, user_id=ADMIN)).replies
    # Still the group's article: its question is the first phrasing.
    assert f"Фразы: {GYM[0][1]}" in shown_text(summary)


async def test_none_fit_lands_in_the_inbox_and_others_cannot_see_it(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))

    reply = await bot.ask("как сбросить пароль?")
    _, (_, not_helpful) = TelegramStub.buttons(reply)
    press = await bot.press(reply, not_helpful)
    offer = press.replies[-1]
    none_fit = TelegramStub.buttons(offer)[-1][1]
    await bot.press(offer, none_fit)
    _, group = [c for c in await bot.say("/unanswered", user_id=ADMIN) if c.method == "sendMessage"]
    assert "«Нет подходящего»" in shown_text(group)
    [refused] = await bot.say("/unanswered", user_id=USER_ID)
    assert shown_text(refused) == texts.UNKNOWN_COMMAND
    for action in ("attach", "create", "dismiss"):
        forged = AdminInbox(action=action, token="0badc0de").pack()
        pressed = await bot.press(reply, forged, user_id=USER_ID)
        assert pressed.alert == admin_texts.NOT_FOR_YOU


async def test_a_group_attached_to_an_article_the_admin_chose(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    choose = TelegramStub.buttons(gym)[1][1]

    [closest] = (await bot.press(gym, choose, user_id=ADMIN)).replies
    assert shown_text(closest).startswith("К какой статье привязать «есть ли у компании")
    offered = TelegramStub.buttons(closest)
    assert len(offered) == admin_texts.CHOOSE_SHOWN
    assert all(label.startswith("→ ") for label, _ in offered)
    # Not among the closest: found by words from its title.
    [nothing] = await bot.say("абракадабра", user_id=ADMIN)
    assert shown_text(nothing).startswith("По словам «абракадабра» статей нет.")
    [found] = await bot.say("ДМС", user_id=ADMIN)
    assert shown_text(found) == "По словам «ДМС»:"
    title = "ДМС: как пользоваться медицинской страховкой"
    data = dict(TelegramStub.buttons(found))[f"→ {title}"]
    # A forged article id in the button: refused, nothing attached, the group still open.
    forged = AdminInbox.unpack(data).model_copy(update={"article": 99999}).pack()
    refused = await bot.press(found, forged, user_id=ADMIN)
    assert shown_text(refused.replies[-1]) == admin_texts.INBOX_GONE

    mark = bot.stub.mark()
    press = await bot.press(found, data, user_id=ADMIN)

    assert shown_text(press.replies[-1]).startswith(
        f"Привязано к «{title}»: 3 вопроса стали фразами"
    )
    for user in (101, 102):
        note, article = bot.replies(after=mark, user_id=user)
        assert shown_text(note).startswith("Нашёлся ответ на ваш вопрос «")
        assert shown_text(article).startswith(title)
    # The typed words no longer search: the dialog ended with the attachment.
    [unanswered] = await bot.say("ДМС", user_id=ADMIN)
    assert unanswered.params["text"] != "По словам «ДМС»:"
