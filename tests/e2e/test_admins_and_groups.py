"""Admins hear about unanswered questions; in group chats the bot keeps quiet."""

from __future__ import annotations

import time

from bot.keyboards import Rate
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from tests.fakes.harness import FORCE_ANSWER, FORCE_NOTHING, LaunchBot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.telegram import TelegramStub

GROUP = -100123


def _sent_to(stub: TelegramStub, chat_id: int, after: int = 0) -> list[str]:
    return [
        str(call.params["text"])
        for call in stub.calls[after:]
        if call.method == "sendMessage" and call.params.get("chat_id") == chat_id
    ]


async def test_admins_are_told_about_an_unanswered_question(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({ADMIN}))
    await bot.ask("Сколько стоит <парковка> для гостей & курьеров?")
    [query] = await bot.queries()
    assert _sent_to(bot.stub, ADMIN) == [
        admin_texts.unanswered(query.id, "Сколько стоит <парковка> для гостей & курьеров?")
    ]
    assert "&lt;парковка&gt;" in _sent_to(bot.stub, ADMIN)[0]


async def test_an_admin_is_not_told_about_their_own_question(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({USER_ID}))
    await bot.ask("Сколько стоит парковка?")
    assert _sent_to(bot.stub, USER_ID)[-1] == texts.NOTHING_FOUND


async def test_admins_hear_of_a_not_helpful_article_and_of_none_fit(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    reply = await bot.ask("как сбросить пароль?")
    [(_, _), (_, not_helpful)] = TelegramStub.buttons(reply)
    rated = Rate.unpack(not_helpful)
    press = await bot.press(reply, not_helpful)
    title = await bot.title_of(rated.article_id)
    assert title is not None
    assert _sent_to(bot.stub, ADMIN) == [
        admin_texts.not_helpful(rated.query_id, "как сбросить пароль?", title)
    ]
    # The follow-up offer ends with «Нет подходящего»: pressing it tells the admins again.
    offer = press.replies[1]
    _, none_fit = TelegramStub.buttons(offer)[-1]
    await bot.press(offer, none_fit)
    assert _sent_to(bot.stub, ADMIN)[-1] == admin_texts.none_fit(
        rated.query_id, "как сбросить пароль?"
    )


async def test_an_admin_who_blocked_the_bot_does_not_stop_the_others(
    launch_bot: LaunchBot,
) -> None:
    blocked = 555
    bot = await launch_bot(FORCE_NOTHING, admin_ids=frozenset({blocked, ADMIN}))
    bot.stub.blocked_chats.add(blocked)
    bot.expected_errors.append("bot was blocked by the user")
    reply = await bot.ask("Сколько стоит парковка?")
    assert str(reply.params["text"]) == texts.NOTHING_FOUND
    [query] = await bot.queries()
    assert _sent_to(bot.stub, ADMIN) == [
        admin_texts.unanswered(query.id, "Сколько стоит парковка?")
    ]
    refused = bot.stub.calls_of("sendMessage")
    assert [c.error for c in refused if c.params.get("chat_id") == blocked] == [
        "Forbidden: bot was blocked by the user"
    ]


async def test_the_bot_keeps_quiet_in_a_group(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    stub = bot.stub
    mark = stub.mark()
    user = stub.user_object(USER_ID)
    chat = stub.chat_object(GROUP)
    now = int(time.time())
    stub.push_update(
        {
            "message": {
                "message_id": 1,
                "date": now,
                "chat": chat,
                "from": user,
                "text": "как сбросить пароль?",
            }
        }
    )
    stub.push_update(
        {
            "message": {
                "message_id": 2,
                "date": now,
                "chat": chat,
                "from": user,
                "new_chat_members": [stub.bot_user],
            }
        }
    )
    stub.push_update(
        {
            "message": {
                "message_id": 3,
                "date": now,
                "chat": chat,
                "from": user,
                "left_chat_member": user,
            }
        }
    )
    await bot.settle()
    assert [c.method for c in stub.calls[mark:] if c.method.startswith(("send", "edit"))] == []
    assert await bot.queries() == []
