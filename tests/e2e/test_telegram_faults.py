"""Telegram fails now and then: the bot retries, and no question, click or reply is lost."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.exceptions import TelegramServerError

from bot import telegram_retry, texts
from bot.keyboards import Pick, Rate
from tests.e2e.conftest import FORCE_ANSWER, FORCE_NOTHING, FORCE_SUGGEST, LaunchBot
from tests.telegram_stub import Call, Fault, TelegramStub

QUESTION = "Как сменить пароль?"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production back-off, shortened: the same number of attempts, in tenths of a second."""
    monkeypatch.setattr(
        telegram_retry, "BACKOFF_SECONDS", tuple(s / 10 for s in telegram_retry.BACKOFF_SECONDS)
    )


def _texts(calls: list[Call]) -> list[str]:
    return [str(call.params.get("text")) for call in calls]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("retry_after", 1),
        Fault("server_error"),
        Fault("bad_gateway"),
        Fault("drop_before"),
        Fault("slow", 2),
    ],
    ids=lambda fault: fault.kind,
)
async def test_an_answer_survives_a_transient_fault_of_send_message(
    launch_bot: LaunchBot, fault: Fault
) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    bot.stub.fail_next("sendMessage", fault)
    [reply] = await bot.say(QUESTION)
    assert _texts([reply])[0].startswith("<b>"), "the article, sent once"
    assert texts.SEARCH_FAILED not in _texts(bot.stub.calls_of("sendMessage"))
    assert len(await bot.queries()) == 1
    assert bot.stub.faults_injected == [("sendMessage", fault)]


async def test_a_reply_whose_answer_was_lost_reaches_the_person(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    # The message is delivered, but the connection drops before the bot hears so: it cannot
    # tell this from a message that never left, so it sends again; a duplicate beats silence.
    bot.stub.fail_next("sendMessage", Fault("drop_after"))
    replies = await bot.say(QUESTION)
    assert 1 <= len(replies) <= 2
    assert all(text.startswith("<b>") for text in _texts(replies))
    assert len(await bot.queries()) == 1


async def test_a_fault_that_outlasts_the_retries_is_not_reported_as_a_failed_search(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    bot.expected_failures = (TelegramServerError,)
    attempts = len(telegram_retry.BACKOFF_SECONDS) + 1
    bot.stub.fail_next("sendMessage", Fault("server_error"), times=attempts)
    assert await bot.say(QUESTION) == []
    assert len(bot.stub.calls_of("sendMessage")) == attempts, "bounded: then it gives up"
    assert texts.SEARCH_FAILED not in _texts(bot.stub.calls_of("sendMessage"))
    [query] = await bot.queries()  # the question itself is kept for the admins
    assert query.text == QUESTION


async def test_a_pick_shows_the_article_even_when_the_press_cannot_be_acknowledged(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_SUGGEST)
    too_old = "query is too old and response timeout expired or query ID is invalid"
    bot.expected_errors.append(too_old)
    reply = await bot.ask(QUESTION)
    pick = next(data for _, data in TelegramStub.buttons(reply) if data.startswith("p:"))
    bot.stub.fail_next("answerCallbackQuery", Fault("bad_request", description=too_old))
    mark = bot.stub.mark()
    bot.stub.push_callback(bot.user_id, reply.result["message_id"], pick)
    await bot.settle()
    [article] = bot.replies(after=mark)
    assert _texts([article])[0].startswith("<b>")
    [click] = await bot.feedback()
    assert (click.article_id, click.label) == (Pick.unpack(pick).article_id, 1)


async def test_a_repeated_press_while_telegram_is_slow_locks_nobody_out(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    reply = await bot.ask(QUESTION)
    (_, helpful), _ = TelegramStub.buttons(reply)
    bot.expected_errors.append("message is not modified")
    await bot.press(reply, helpful)
    # The same 👍 again; Telegram takes 8 s to acknowledge it. Before, the duplicate's
    # transaction held SQLite's write lock all that time and other questions failed.
    bot.stub.fail_next("answerCallbackQuery", Fault("slow", 8))
    bot.stub.push_callback(bot.user_id, reply.result["message_id"], helpful)
    await asyncio.sleep(0.3)
    others = range(500, 505)
    mark = bot.stub.mark()
    for user in others:
        bot.stub.push_text(user, "Как получить доступ к логам?")
    for user in others:
        answer = await bot.stub.wait_for_reply(user, after=mark, timeout=4)
        assert str(answer.params["text"]).startswith("<b>")
    await bot.settle()
    assert len(await bot.queries()) == 1 + len(others)
    [click] = await bot.feedback()
    assert (click.query_id, click.label) == (Rate.unpack(helpful).query_id, 1)


async def test_an_admin_telegram_keeps_failing_does_not_cost_the_others_their_alert(
    launch_bot: LaunchBot,
) -> None:
    first, second = 1001, 1002
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({first, second}))
    attempts = len(telegram_retry.BACKOFF_SECONDS) + 1
    bot.stub.fail_next("sendMessage", Fault("retry_after", 1), times=attempts, chat_id=first)
    [reply] = await bot.say("рецепт борща")
    assert reply.params["text"] == texts.NOTHING_FOUND
    alerts = [c for c in bot.stub.calls_of("sendMessage") if c.params["chat_id"] == second]
    assert len(alerts) == 1 and alerts[0].error is None
