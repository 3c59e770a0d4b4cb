"""Learned phrasings through the bot: a 👍 or a picked suggestion teaches the question to the
article, served from the next message on, with no restart and no retraining.

The bands are the model's own (DEFAULT_BANDS): the point is that a question which got only
suggestions before is answered directly after. Each test prints the scores it relies on."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import LearningSettings
from bot.keyboards import AdminLearned, Pick, Rate
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.storage.tables import PhrasingRow
from tests.fakes.harness import DEFAULT_BANDS, BotHarness, LaunchBot
from tests.fakes.people import ADMIN, OTHER_USER_ID, USER_ID
from tests.fakes.replies import buttons, sent_text
from tests.fakes.samples import LOGS_ARTICLE, LOGS_QUESTION

# Suggestions under the model's bands; the logs article is among them, not first.
NIGHT_QUESTION = "Где глянуть, что ночью сломалось на сервере?"
# A paraphrase of it, also only suggested before (its first suggestion is another article).
NIGHT_PARAPHRASE = "Куда смотреть, если ночью всё сломалось на сервере?"
# Only suggested before; close to LOGS_QUESTION.
LOGS_PARAPHRASE = "Кто выдаёт доступ к логам?"


async def band_of(bot: BotHarness, question: str, user_id: int = USER_ID) -> tuple[str, str]:
    """Ask; the band and the first article (answer) or first suggestion, with the score printed."""
    reply = await bot.ask(question, user_id=user_id)
    query = (await bot.queries())[-1]
    print(f"«{question}»: {query.band} {query.score:.3f}")
    if query.band == "answer":
        return "answer", sent_text(reply).split("</b>")[0].removeprefix("<b>")
    return query.band, buttons(reply)[0][0] if buttons(reply) else ""


async def pick_logs(bot: BotHarness, question: str, user_id: int = USER_ID) -> Pick:
    reply = await bot.ask(question, user_id=user_id)
    titles = [title for title, _ in buttons(reply)]
    assert LOGS_ARTICLE in titles, f"the logs article must be suggested: {titles}"
    data = buttons(reply)[titles.index(LOGS_ARTICLE)][1]
    press = await bot.press(reply, data, user_id=user_id)
    assert press.alert is None
    return Pick.unpack(data)


async def learned_phrasings(bot: BotHarness) -> list[tuple[str, str]]:
    async with bot.session_factory() as session:
        rows = await session.scalars(
            select(PhrasingRow).where(PhrasingRow.source.in_(("feedback", "pending", "rejected")))
        )
        return [(row.text, row.source) for row in rows]


async def test_a_picked_suggestion_answers_the_question_and_its_paraphrase_directly(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(DEFAULT_BANDS)
    assert (await band_of(bot, NIGHT_PARAPHRASE))[0] == "suggest"
    assert (await band_of(bot, NIGHT_QUESTION))[0] == "suggest"

    await pick_logs(bot, NIGHT_QUESTION)

    assert await learned_phrasings(bot) == [(NIGHT_QUESTION, "feedback")]
    assert await band_of(bot, NIGHT_QUESTION) == ("answer", LOGS_ARTICLE)
    assert await band_of(bot, NIGHT_PARAPHRASE, user_id=OTHER_USER_ID) == ("answer", LOGS_ARTICLE)
    # Asked again in other case and spacing, it counts as the same question.
    assert await band_of(bot, "  где ГЛЯНУТЬ, что ночью сломалось на сервере? ") == (
        "answer",
        LOGS_ARTICLE,
    )


async def test_a_thumbs_up_answers_a_close_paraphrase_directly(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(DEFAULT_BANDS)
    assert (await band_of(bot, LOGS_PARAPHRASE))[0] == "suggest"
    reply = await bot.ask(LOGS_QUESTION)
    assert sent_text(reply).startswith(f"<b>{LOGS_ARTICLE}</b>")

    press = await bot.press(reply, buttons(reply)[0][1])

    assert press.answer.params.get("text") == texts.THANKS_HELPFUL
    assert await learned_phrasings(bot) == [(LOGS_QUESTION, "feedback")]
    assert await band_of(bot, LOGS_PARAPHRASE, user_id=OTHER_USER_ID) == ("answer", LOGS_ARTICLE)


async def test_a_forged_pick_is_refused_and_learns_nothing(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(DEFAULT_BANDS)
    reply = await bot.ask(NIGHT_QUESTION)
    offered = {Pick.unpack(data).article_id for _, data in buttons(reply)[:-1]}
    query_id = Pick.unpack(buttons(reply)[0][1]).query_id
    logs = await bot.article_id(LOGS_ARTICLE)
    other = next(a for a in range(1, 60) if a not in offered and a != logs)
    forged_pick = Pick(query_id=query_id, article_id=other).pack()
    forged_rate = Rate(query_id=query_id, article_id=other, label=1).pack()

    for forged in (forged_pick, forged_rate):
        press = await bot.press(reply, forged)
        assert press.alert == texts.STALE_BUTTON
        assert press.replies == []

    assert await bot.feedback() == []
    assert await learned_phrasings(bot) == []
    assert (await band_of(bot, NIGHT_QUESTION))[0] == "suggest"


async def test_a_question_is_learned_once_enough_people_confirmed_it(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(DEFAULT_BANDS, learning=LearningSettings(min_confirmations=2))
    await pick_logs(bot, NIGHT_QUESTION, user_id=USER_ID)
    # The same person again does not count twice.
    await pick_logs(bot, NIGHT_QUESTION, user_id=USER_ID)
    assert await learned_phrasings(bot) == []
    assert (await band_of(bot, NIGHT_QUESTION))[0] == "suggest"

    await pick_logs(bot, NIGHT_QUESTION.lower(), user_id=OTHER_USER_ID)

    [(text, source)] = await learned_phrasings(bot)
    assert source == "feedback" and text.casefold() == NIGHT_QUESTION.casefold()
    assert await band_of(bot, NIGHT_QUESTION) == ("answer", LOGS_ARTICLE)


async def test_with_auto_learning_off_a_question_waits_for_an_admin(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(
        DEFAULT_BANDS, learning=LearningSettings(auto=False), admin_ids=frozenset({ADMIN})
    )
    await pick_logs(bot, NIGHT_QUESTION)
    assert await learned_phrasings(bot) == [(NIGHT_QUESTION, "pending")]
    assert (await band_of(bot, NIGHT_QUESTION))[0] == "suggest"

    # Nobody else sees the queue or can press its buttons.
    [refused] = await bot.say("/learned", user_id=USER_ID)
    assert sent_text(refused) == texts.UNKNOWN_COMMAND

    header, item = [
        c for c in await bot.say("/learned", user_id=ADMIN) if c.method == "sendMessage"
    ]
    assert sent_text(header).startswith("На проверке: 1 фраза.")
    assert sent_text(item) == admin_texts.learned_item(NIGHT_QUESTION, LOGS_ARTICLE)
    (approve_text, approve), (reject_text, _) = buttons(item)
    assert (approve_text, reject_text) == (admin_texts.BUTTON_APPROVE, admin_texts.BUTTON_REJECT)
    forged = await bot.press(item, approve, user_id=USER_ID)
    assert forged.alert == admin_texts.NOT_FOR_YOU
    assert await learned_phrasings(bot) == [(NIGHT_QUESTION, "pending")]

    done = await bot.press(item, approve, user_id=ADMIN)

    assert done.alert is None
    assert await learned_phrasings(bot) == [(NIGHT_QUESTION, "feedback")]
    assert bot.current(item)["text"].startswith("✓ Принято:")
    assert await band_of(bot, NIGHT_QUESTION) == ("answer", LOGS_ARTICLE)
    again = await bot.press(item, approve, user_id=ADMIN)
    assert again.alert == admin_texts.LEARNED_GONE


async def test_a_rejected_question_is_not_learned(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(
        DEFAULT_BANDS, learning=LearningSettings(auto=False), admin_ids=frozenset({ADMIN})
    )
    await pick_logs(bot, NIGHT_QUESTION)
    _, item = [c for c in await bot.say("/learned", user_id=ADMIN) if c.method == "sendMessage"]
    phrasing_id = AdminLearned.unpack(buttons(item)[1][1]).phrasing_id

    await bot.press(
        item, AdminLearned(action="reject", phrasing_id=phrasing_id).pack(), user_id=ADMIN
    )

    assert await learned_phrasings(bot) == [(NIGHT_QUESTION, "rejected")]
    assert bot.current(item)["text"].startswith("✕ Отклонено:")
    [empty] = await bot.say("/learned", user_id=ADMIN)
    assert sent_text(empty) == admin_texts.LEARNED_EMPTY
    # Rejected for good: another person confirming it queues nothing, and it is not served.
    await pick_logs(bot, NIGHT_QUESTION, user_id=OTHER_USER_ID)
    assert await learned_phrasings(bot) == [(NIGHT_QUESTION, "rejected")]
    [still_empty] = await bot.say("/learned", user_id=ADMIN)
    assert sent_text(still_empty) == admin_texts.LEARNED_EMPTY
    assert (await band_of(bot, NIGHT_QUESTION))[0] == "suggest"
