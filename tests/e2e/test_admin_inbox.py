"""/unanswered: what the base could not answer, grouped; attach, create, dismiss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.keyboards import AdminAdd, AdminInbox, AdminInboxUndo
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.types import ArticleDraft
from tests.fakes.harness import FORCE_ANSWER, FORCE_NOTHING, FORCE_SUGGEST, BotHarness, LaunchBot
from tests.fakes.inbox_notices import send_notices_at
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import sent_text, shown_text
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
    assert shown_text(header) == "Без ответа: 4 вопроса в 2 группах."
    return groups


def _action(card: Call, action: str) -> str:
    """The data of a card's button doing `action` (attach, choose, create, dismiss)."""
    [data] = [d for _, d in TelegramStub.buttons(card) if AdminInbox.unpack(d).action == action]
    return data


async def _confirm(bot: BotHarness, group: Call, choice: str) -> tuple[Call, str]:
    """Press a group's attach button, then «Да, привязать»: the confirmation's final text and
    the data of its «Отменить»."""
    [ask] = (await bot.press(group, choice, user_id=ADMIN)).replies
    yes = dict(TelegramStub.buttons(ask))[admin_texts.BUTTON_CONFIRM_ATTACH]
    replies = (await bot.press(ask, yes, user_id=ADMIN)).replies
    # The confirmation replaces the question; the group's card is edited too.
    [done] = [c for c in replies if c.params.get("message_id") == ask.result["message_id"]]
    [(undo_label, undo)] = TelegramStub.buttons(done)
    assert undo_label == admin_texts.BUTTON_UNDO
    return done, undo


async def test_a_group_attached_to_an_article_reaches_each_asker_once(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, canteen = await _groups(bot)
    assert shown_text(gym).startswith("1. 3 вопроса, 2 человека")
    assert shown_text(canteen).startswith("2. 1 вопрос, 1 человек")
    # Nothing scores even as a suggestion (FORCE_NOTHING): the closest article comes third.
    [(choose_label, _), (create_label, _), (attach_label, attach), (dismiss_label, dismiss)] = (
        TelegramStub.buttons(gym)
    )
    assert (choose_label, create_label, dismiss_label) == (
        admin_texts.BUTTON_CHOOSE,
        admin_texts.BUTTON_CREATE,
        admin_texts.BUTTON_DISMISS,
    )
    assert attach_label.startswith("Привязать к «")
    title = attach_label.removeprefix("Привязать к «").removesuffix("»")
    assert f"Подходящей статьи в базе нет: даже ближайшая, «{title}», — о другом." in (
        shown_text(gym)
    )
    mark = bot.stub.mark()
    done, _ = await _confirm(bot, gym, attach)
    assert shown_text(done).startswith(f"Привязано к «{title}»: 3 вопроса стали фразами")
    # The card says what became of the group, and its buttons are gone.
    card = bot.current(gym)
    assert shown_text(card).endswith(f"\n\n✅ Привязано к «{title}».")
    assert TelegramStub.buttons(card) == []
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(minutes=6)) == 2
    # Once the answer went out, the confirmation says so, with no «Отменить».
    confirmation = bot.current(done)
    assert shown_text(confirmation) == admin_texts.attached(title, 3, 2)
    assert "ответ отправлен: 2 людям" in shown_text(confirmation)
    assert TelegramStub.buttons(confirmation) == []
    # Two people asked (one of them twice): each gets the note and the article, once.
    for user in (101, 102):
        note, article = [c for c in bot.replies(after=mark, user_id=user)]
        assert shown_text(note).startswith("Нашёлся ответ на ваш вопрос «")
        assert shown_text(article).startswith(title)
        (_, helpful), _ = TelegramStub.buttons(article)
        rated = await bot.press(article, helpful, user_id=user)
        assert rated.answer.params.get("text") == texts.THANKS_HELPFUL  # accepted: offered now
    # Dismiss the other group quietly; the inbox is then empty.
    [(_, _), (_, _), (_, _), (_, dismiss)] = TelegramStub.buttons(canteen)
    [ask] = (await bot.press(canteen, dismiss, user_id=ADMIN)).replies
    quiet = dict(TelegramStub.buttons(ask))[admin_texts.BUTTON_DISMISS_QUIET]
    dismissed = await bot.press(ask, quiet, user_id=ADMIN)
    assert shown_text(dismissed.replies[0]) == "Группа отклонена: 1 вопрос вне темы базы."
    card = bot.current(canteen)
    assert shown_text(card).endswith("\n\n✅ Отклонено: вне темы базы.")
    assert TelegramStub.buttons(card) == []
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
    create = _action(gym, "create")
    [ask_title] = (await bot.press(gym, create, user_id=ADMIN)).replies
    # Which questions the article is for, and that they will be attached.
    assert shown_text(ask_title).startswith(
        f"Новая статья для вопросов: «{GYM[0][1]}» (3). Когда вы её сохраните, эти вопросы "
        "к ней привяжутся."
    )
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
    # As an attach does: the people who asked are told after the undo period, not at once.
    [done] = [
        c
        for c in saved.replies
        if shown_text(c).startswith("Привязано к «Корпоративный спортзал»: 3 вопроса")
    ]
    assert [label for label, _ in TelegramStub.buttons(done)] == [admin_texts.BUTTON_UNDO]
    assert bot.replies(after=mark, user_id=102) == []
    # The group's card says so and loses its buttons; a stale «Создать статью» is refused
    # at once, not after a whole second article.
    card = bot.current(gym)
    assert shown_text(card).endswith(
        "\n\n✅ Создана статья «Корпоративный спортзал», вопросы привязаны к ней."
    )
    assert TelegramStub.buttons(card) == []
    again = await bot.press(gym, create, user_id=ADMIN)
    assert again.alert == admin_texts.INBOX_GONE and again.replies == []
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(minutes=6)) == 2
    assert [shown_text(c) for c in bot.replies(after=mark, user_id=102)][1].startswith(
        "Корпоративный спортзал"
    )
    assert shown_text(bot.current(done)) == admin_texts.attached("Корпоративный спортзал", 3, 2)
    assert TelegramStub.buttons(bot.current(done)) == []


async def test_an_article_created_from_a_group_can_be_undone_before_anyone_is_told(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    create = _action(gym, "create")
    await bot.press(gym, create, user_id=ADMIN)
    await bot.say("Корпоративный спортзал", user_id=ADMIN)
    [ask_phrasings] = await bot.say("Спортзал на 3 этаже, вход по пропуску.", user_id=ADMIN)
    press = await bot.press(
        ask_phrasings, AdminAdd(step="skip", at="phrasings").pack(), user_id=ADMIN
    )
    *_, summary = press.replies
    mark = bot.stub.mark()
    save = next(d for t, d in TelegramStub.buttons(summary) if t.startswith("Сохранить"))
    saved = await bot.press(summary, save, user_id=ADMIN)
    [done] = [c for c in saved.replies if TelegramStub.buttons(c)]
    [(_, undo)] = TelegramStub.buttons(done)
    undone = await bot.press(done, undo, user_id=ADMIN)
    assert "никому ничего не отправлено" in shown_text(undone.replies[-1])
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(days=1)) == 0
    assert [bot.replies(after=mark, user_id=u) for u in (101, 102)] == [[], []]
    # The article stays (the admin wrote it); its questions wait in the inbox again.
    gym_again, _ = await _groups(bot)
    assert shown_text(gym_again).startswith("1. 3 вопроса, 2 человека")


async def test_the_groups_survive_another_dialog(launch_bot: LaunchBot) -> None:
    """Starting and cancelling «Создать статью» (or /add) keeps the other groups' buttons."""
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, canteen = await _groups(bot)
    create = _action(gym, "create")
    [ask_title] = (await bot.press(gym, create, user_id=ADMIN)).replies
    cancel = dict(TelegramStub.buttons(ask_title))[admin_texts.BUTTON_CANCEL]
    cancelled = await bot.press(ask_title, cancel, user_id=ADMIN)
    assert shown_text(cancelled.replies[0]) == admin_texts.ADD_CANCELLED_UNTITLED
    await bot.say("/add", user_id=ADMIN)
    [gone] = await bot.say("/cancel", user_id=ADMIN)
    assert shown_text(gone) == admin_texts.ADD_CANCELLED_UNTITLED
    dismiss = TelegramStub.buttons(canteen)[-1][1]
    [ask] = (await bot.press(canteen, dismiss, user_id=ADMIN)).replies
    quiet = dict(TelegramStub.buttons(ask))[admin_texts.BUTTON_DISMISS_QUIET]
    dismissed = await bot.press(ask, quiet, user_id=ADMIN)
    assert dismissed.alert is None
    assert shown_text(dismissed.replies[0]) == "Группа отклонена: 1 вопрос вне темы базы."


async def test_create_from_a_group_offers_the_kept_draft_first(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    await bot.say("/add", user_id=ADMIN)
    await bot.say("Черновик без конца", user_id=ADMIN)
    create = _action(gym, "create")
    [offer] = (await bot.press(gym, create, user_id=ADMIN)).replies
    assert shown_text(offer) == admin_texts.add_draft_waits("Черновик без конца")
    start_over = dict(TelegramStub.buttons(offer))[admin_texts.BUTTON_START_OVER]
    [ask_title] = (await bot.press(offer, start_over, user_id=ADMIN)).replies
    assert shown_text(ask_title).startswith(f"Новая статья для вопросов: «{GYM[0][1]}» (3).")
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
    for forged in [
        *(AdminInbox(action=a, token="0badc0de").pack() for a in ("attach", "confirm", "tell")),
        AdminInboxUndo(notice=1).pack(),
    ]:
        pressed = await bot.press(reply, forged, user_id=USER_ID)
        assert pressed.alert == admin_texts.NOT_FOR_YOU


async def test_a_group_attached_to_an_article_the_admin_chose(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    choose = _action(gym, "choose")

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
    assert shown_text(refused.replies[-1]) == admin_texts.ARTICLE_MISSING
    forged_yes = AdminInbox.unpack(data).model_copy(update={"action": "confirm", "article": 99999})
    refused = await bot.press(found, forged_yes.pack(), user_id=ADMIN)
    assert shown_text(refused.replies[-1]) == admin_texts.INBOX_GONE

    mark = bot.stub.mark()
    done, _ = await _confirm(bot, found, data)

    assert shown_text(done).startswith(f"Привязано к «{title}»: 3 вопроса стали фразами")
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(minutes=6)) == 2
    for user in (101, 102):
        note, article = bot.replies(after=mark, user_id=user)
        assert shown_text(note).startswith("Нашёлся ответ на ваш вопрос «")
        assert shown_text(article).startswith(title)
    # The typed words no longer search: the dialog ended with the attachment.
    [unanswered] = await bot.say("ДМС", user_id=ADMIN)
    assert unanswered.params["text"] != "По словам «ДМС»:"


async def test_attaching_asks_first_showing_the_start_of_the_article(
    launch_bot: LaunchBot,
) -> None:
    body = "Спортзал на 3 этаже.\n\n" + "Вход по пропуску, душевые рядом. " * 60
    bot = await launch_bot(
        FORCE_NOTHING,
        [ArticleDraft("Корпоративный спортзал", body, ("есть ли корпоративный спортзал",))],
        admin_ids=frozenset({ADMIN}),
    )
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    # No raw score: words instead.
    assert "0." not in shown_text(gym).split("\n")[-1]
    attach = _action(gym, "attach")
    target = await bot.article_id("Корпоративный спортзал")
    choice = AdminInbox.unpack(attach).model_copy(update={"article": target}).pack()
    mark = bot.stub.mark()
    [ask] = (await bot.press(gym, choice, user_id=ADMIN)).replies
    shown = shown_text(ask)
    assert shown.startswith(
        "Привязать 3 вопроса к статье «Корпоративный спортзал»? "
        "Спросившие (2 человека) получат её так:\n\nКорпоративный спортзал\n\n"
        "Спортзал на 3 этаже."
    )
    assert shown.endswith("…") and len(shown) < 1000  # the start, not the whole article
    assert "<b>Корпоративный спортзал</b>" in str(ask.params["text"])  # formatted as people see
    assert [label for label, _ in TelegramStub.buttons(ask)] == [
        admin_texts.BUTTON_CONFIRM_ATTACH,
        admin_texts.BUTTON_CANCEL,
    ]
    cancel = dict(TelegramStub.buttons(ask))[admin_texts.BUTTON_CANCEL]
    kept = await bot.press(ask, cancel, user_id=ADMIN)
    assert shown_text(kept.replies[-1]) == admin_texts.KEPT
    # Nothing attached, nobody told: the group still waits.
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(days=1)) == 0
    assert bot.replies(after=mark, user_id=101) == []
    await _groups(bot)


async def test_askers_are_told_once_after_the_undo_period_even_across_a_restart(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}), inbox_undo_minutes=5)
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    mark = bot.stub.mark()
    before = datetime.now(UTC)
    done, undo = await _confirm(bot, gym, _action(gym, "attach"))
    after = datetime.now(UTC)
    assert "через 5 минут" in shown_text(done)
    # Attached at once: the questions are phrasings the base serves now.
    async with bot.session_factory() as session:
        phrasings = await ArticleRepository(session).active_phrasings()
    assert {q for _, q in GYM} <= {p.text for p in phrasings}
    # Within the period nobody hears a thing (the bot "restarts": a new sender each look).
    assert await send_notices_at(bot, before + timedelta(minutes=4, seconds=59)) == 0
    assert [bot.replies(after=mark, user_id=u) for u in (101, 102)] == [[], []]
    # After it, each asker exactly once, however many processes look.
    assert await send_notices_at(bot, after + timedelta(minutes=5, seconds=1)) == 2
    assert await send_notices_at(bot, after + timedelta(minutes=6)) == 0
    assert await send_notices_at(bot, after + timedelta(days=1)) == 0
    for user in (101, 102):
        note, article = bot.replies(after=mark, user_id=user)
        assert shown_text(note).startswith("Нашёлся ответ на ваш вопрос «")
        assert TelegramStub.buttons(article)  # 👍/👎 under it
    # Too late to undo now: the button is gone, and a stale press says so.
    assert TelegramStub.buttons(bot.current(done)) == []
    late = await bot.press(done, undo, user_id=ADMIN)
    assert late.alert == admin_texts.UNDO_TOO_LATE


async def test_undo_within_the_period_detaches_and_tells_nobody(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    [(attach_label, attach)] = [
        (t, d) for t, d in TelegramStub.buttons(gym) if AdminInbox.unpack(d).action == "attach"
    ]
    title = attach_label.removeprefix("Привязать к «").removesuffix("»")
    mark = bot.stub.mark()
    done, undo = await _confirm(bot, gym, attach)
    undone = await bot.press(done, undo, user_id=ADMIN)
    assert undone.alert is None
    assert shown_text(undone.replies[-1]) == (
        f"Привязка к «{title}» отменена: 3 вопроса снова ждут в /unanswered, "
        "никому ничего не отправлено."
    )
    again = await bot.press(done, undo, user_id=ADMIN)
    assert again.alert == admin_texts.UNDO_TOO_LATE
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(days=1)) == 0
    assert [bot.replies(after=mark, user_id=u) for u in (101, 102)] == [[], []]
    # The questions wait again and taught the article nothing.
    gym_again, _ = await _groups(bot)
    assert shown_text(gym_again).startswith("1. 3 вопроса, 2 человека")
    async with bot.session_factory() as session:
        phrasings = await ArticleRepository(session).active_phrasings()
    assert not {q for _, q in GYM} & {p.text for p in phrasings}
    # A forged notice: a clear answer, nothing changes.
    forged = await bot.press(done, AdminInboxUndo(notice=99999).pack(), user_id=ADMIN)
    assert forged.alert == admin_texts.UNDO_TOO_LATE


async def test_dismiss_and_tell_messages_each_asker_once_quietly_nobody(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, canteen = await _groups(bot)
    [ask] = (await bot.press(gym, TelegramStub.buttons(gym)[-1][1], user_id=ADMIN)).replies
    assert shown_text(ask) == admin_texts.DISMISS_ASK
    options = dict(TelegramStub.buttons(ask))
    assert list(options) == [
        admin_texts.BUTTON_DISMISS_TELL,
        admin_texts.BUTTON_DISMISS_QUIET,
        admin_texts.BUTTON_CANCEL,
    ]
    mark = bot.stub.mark()
    told = await bot.press(ask, options[admin_texts.BUTTON_DISMISS_TELL], user_id=ADMIN)
    assert shown_text(told.replies[0]) == (
        "Группа отклонена: 3 вопроса вне темы базы. Сообщили: 2 людям."
    )
    [note] = bot.replies(after=mark, user_id=101)
    assert sent_text(note) == texts.off_topic(GYM[0][1])
    [note] = bot.replies(after=mark, user_id=102)
    assert sent_text(note) == texts.off_topic(GYM[1][1])
    # Pressed again (a double tap): the group is gone, nobody is told twice.
    stale = await bot.press(ask, options[admin_texts.BUTTON_DISMISS_TELL], user_id=ADMIN)
    assert stale.alert == admin_texts.INBOX_GONE
    assert len(bot.replies(after=mark, user_id=101)) == 1

    [ask] = (await bot.press(canteen, TelegramStub.buttons(canteen)[-1][1], user_id=ADMIN)).replies
    mark = bot.stub.mark()
    quiet = dict(TelegramStub.buttons(ask))[admin_texts.BUTTON_DISMISS_QUIET]
    await bot.press(ask, quiet, user_id=ADMIN)
    assert bot.replies(after=mark, user_id=CANTEEN[0]) == []
    [empty] = await bot.say("/unanswered", user_id=ADMIN)
    assert shown_text(empty) == admin_texts.INBOX_EMPTY


async def test_an_article_titled_as_the_words_typed_is_offered_first(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(
        FORCE_NOTHING,
        [ArticleDraft("Корпоратив", "Новогодний вечер для всей компании в пятницу.")],
        admin_ids=frozenset({ADMIN}),
    )
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    await bot.press(gym, _action(gym, "choose"), user_id=ADMIN)
    [found] = await bot.say("корпоратив", user_id=ADMIN)
    offered = [label for label, _ in TelegramStub.buttons(found)]
    assert len(offered) > 1
    assert offered[0] == "→ Корпоратив"


async def test_a_person_telegram_refuses_does_not_cost_the_others(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await _ask_all(bot)
    gym, _ = await _groups(bot)
    await _confirm(bot, gym, _action(gym, "attach"))
    bot.stub.blocked_chats.add(101)
    bot.expected_errors.append("bot was blocked by the user")
    mark = bot.stub.mark()
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(minutes=6)) == 1
    note, _ = bot.replies(after=mark, user_id=102)
    assert shown_text(note).startswith("Нашёлся ответ на ваш вопрос «")
    # Sent is sent: the refused person is not retried into a second message for the others.
    assert await send_notices_at(bot, datetime.now(UTC) + timedelta(minutes=7)) == 0
    assert len(bot.replies(after=mark, user_id=102)) == 2


async def test_an_article_rejected_with_thumbs_down_is_not_offered_back(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    reply = await bot.ask("как сбросить пароль?")
    _, (_, not_helpful) = TelegramStub.buttons(reply)
    await bot.press(reply, not_helpful)
    [rated] = await bot.feedback()
    assert rated.article_id is not None
    rejected = await bot.title_of(rated.article_id)
    _, group = [c for c in await bot.say("/unanswered", user_id=ADMIN) if c.method == "sendMessage"]
    assert f"Человек ответил 👎 на статью «{rejected}»." in shown_text(group)
    labels = [label for label, _ in TelegramStub.buttons(group)]
    assert f"Привязать к «{rejected}»" not in labels
    assert labels[0].startswith("Привязать к «")  # another article, close enough to answer


async def test_a_closest_article_in_the_suggest_band_is_offered_first(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_SUGGEST, admin_ids=frozenset({ADMIN}))
    offer = await bot.ask("как сбросить пароль?")
    none_fit = TelegramStub.buttons(offer)[-1][1]
    await bot.press(offer, none_fit)
    _, group = [c for c in await bot.say("/unanswered", user_id=ADMIN) if c.method == "sendMessage"]
    [first, *_] = TelegramStub.buttons(group)
    assert AdminInbox.unpack(first[1]).action == "attach"
    title = first[0].removeprefix("Привязать к «").removesuffix("»")
    assert f"Ближе всего статья «{title}», но я не уверен, что она подходит." in shown_text(group)


async def test_identical_questions_are_listed_once_with_their_count(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    for user in (101, 102):
        bot.stub.open_chat(user)
        await bot.say(CANTEEN[1], user_id=user)
    header, group = [
        c for c in await bot.say("/unanswered", user_id=ADMIN) if c.method == "sendMessage"
    ]
    assert shown_text(header) == "Без ответа: 2 вопроса в 1 группе."
    assert shown_text(group).splitlines()[:2] == [
        "1. 2 вопроса, 2 человека",
        f"• {CANTEEN[1]} ×2 (нет ответа)",
    ]
