"""/learned «Принять всё» and «Отклонить всё»: asked first with the counts, decided in one
transaction with one audit record, accepted phrasings served at once, a second press decides
nothing twice; only what the admin was counted is decided."""

from __future__ import annotations

from bot.config import LearningSettings
from bot.texts import admin as admin_texts
from tests.fakes.harness import FORCE_ANSWER, BotHarness, LaunchBot
from tests.fakes.learned import audit_actions, learned_by_source, queue_for_approval
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import buttons, sent_text
from tests.fakes.samples import LOGS_ARTICLE, PASSWORD_ARTICLE
from tests.fakes.telegram import Call

# Learned for an article they do not name: only the phrasing can make the bot answer them so.
QUEUED = [
    ("почта не пускает после отпуска, что делать", LOGS_ARTICLE),
    ("забыл код от входа в систему", LOGS_ARTICLE),
    ("где глянуть, что ночью упало на сервере", PASSWORD_ARTICLE),
]
LATE = ("как заказать пропуск для гостя", PASSWORD_ARTICLE)


async def launch(launch_bot: LaunchBot) -> BotHarness:
    return await launch_bot(
        FORCE_ANSWER, learning=LearningSettings(auto=False), admin_ids=frozenset({ADMIN})
    )


async def open_learned(bot: BotHarness) -> Call:
    """/learned as the admin: the header with its buttons (the items follow it)."""
    header, *items = [
        c for c in await bot.say("/learned", user_id=ADMIN) if c.method == "sendMessage"
    ]
    assert len(items) == len(await pending(bot))
    return header


async def pending(bot: BotHarness) -> set[tuple[str, str]]:
    return (await learned_by_source(bot)).get("pending", set())


async def test_accept_all_asks_with_the_counts_serves_them_at_once_and_once(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch(launch_bot)
    await queue_for_approval(bot, QUEUED)
    header = await open_learned(bot)
    labels = dict(buttons(header))
    assert list(labels) == [admin_texts.BUTTON_APPROVE_ALL, admin_texts.BUTTON_REJECT_ALL]
    # A phrasing queued after the admin was counted is not accepted unseen.
    await queue_for_approval(bot, [LATE])

    forged = await bot.press(header, labels[admin_texts.BUTTON_APPROVE_ALL], user_id=USER_ID)
    assert forged.alert == admin_texts.NOT_FOR_YOU
    asked = await bot.press(header, labels[admin_texts.BUTTON_APPROVE_ALL], user_id=ADMIN)
    [question] = asked.replies
    assert sent_text(question) == (
        "Принять все фразы на проверке — 3 фразы для 2 статей? Поиск сразу начнёт их учитывать."
    )
    assert await pending(bot) == {*QUEUED, LATE}, "asking changes nothing"

    yes = dict(buttons(question))[admin_texts.BUTTON_APPROVE_ALL_CONFIRM]
    done = await bot.press(question, yes, user_id=ADMIN)

    assert done.alert is None
    assert bot.current(question)["text"] == (
        "✓ Принято: 3 фразы для 2 статей. Поиск уже их учитывает."
    )
    learned = await learned_by_source(bot)
    assert learned["feedback"] == set(QUEUED)
    assert learned["pending"] == {LATE}
    assert await audit_actions(bot) == [("approve_all", None, "3")]
    for text, title in QUEUED:  # served from the next message on
        assert sent_text(await bot.ask(text)).startswith(f"<b>{title}</b>\n\n")

    again = await bot.press(question, yes, user_id=ADMIN)

    assert again.alert == admin_texts.LEARNED_ALL_GONE
    assert (await learned_by_source(bot))["pending"] == {LATE}
    assert await audit_actions(bot) == [("approve_all", None, "3")]


async def test_reject_all_asks_then_rejects_every_one_for_good(launch_bot: LaunchBot) -> None:
    bot = await launch(launch_bot)
    await queue_for_approval(bot, QUEUED)
    header = await open_learned(bot)
    asked = await bot.press(header, dict(buttons(header))[admin_texts.BUTTON_REJECT_ALL], ADMIN)
    [question] = asked.replies
    assert sent_text(question).startswith("Отклонить все фразы на проверке — 3 фразы для 2 статей?")
    kept = await bot.press(question, dict(buttons(question))[admin_texts.BUTTON_CANCEL], ADMIN)
    assert kept.alert is None
    assert bot.current(question)["text"] == admin_texts.LEARNED_ALL_KEPT
    assert await pending(bot) == set(QUEUED)

    asked = await bot.press(header, dict(buttons(header))[admin_texts.BUTTON_REJECT_ALL], ADMIN)
    [question] = asked.replies
    no = dict(buttons(question))[admin_texts.BUTTON_REJECT_ALL_CONFIRM]
    done = await bot.press(question, no, user_id=ADMIN)

    assert done.alert is None
    assert bot.current(question)["text"] == "✕ Отклонено: 3 фразы для 2 статей."
    assert await learned_by_source(bot) == {"rejected": set(QUEUED)}
    assert await audit_actions(bot) == [("reject_all", None, "3")]
    [empty] = await bot.say("/learned", user_id=ADMIN)
    assert sent_text(empty) == admin_texts.LEARNED_EMPTY
    late = await bot.press(header, dict(buttons(header))[admin_texts.BUTTON_APPROVE_ALL], ADMIN)
    assert late.alert == admin_texts.LEARNED_ALL_GONE


async def test_a_single_waiting_phrasing_gets_no_bulk_buttons(launch_bot: LaunchBot) -> None:
    bot = await launch(launch_bot)
    await queue_for_approval(bot, QUEUED[:1])
    header = await open_learned(bot)
    assert buttons(header) == []
