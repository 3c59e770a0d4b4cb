"""Promises the README makes for the corners: a press while the bot was down, a 👎 with nothing
close, an article archived after it was offered, a message Telegram no longer shows, a handler
that fails, an empty base, a very long article (several messages)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.keyboards import Pick, Rate
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.feedback import FeedbackService
from knowledge_base.search.service import SearchService
from knowledge_base.storage.tables import ArticleRow
from knowledge_base.types import ArticleDraft
from tests.fakes.harness import FORCE_ANSWER, FORCE_SUGGEST, LaunchBot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import sent_texts
from tests.fakes.samples import PASSWORD_ARTICLE, PASSWORD_QUESTION
from tests.fakes.telegram import TelegramStub

TOO_OLD = "query is too old"


async def test_a_press_made_while_the_bot_was_down_keeps_vote_follow_up_and_alert(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    bot.expected_errors.append(TOO_OLD)
    reply = await bot.ask(PASSWORD_QUESTION)
    _, (_, not_helpful) = TelegramStub.buttons(reply)
    rated = Rate.unpack(not_helpful)
    mark = bot.stub.mark()
    # Pressed a minute ago: Telegram refuses to let the bot acknowledge it any more.
    bot.stub.push_callback(USER_ID, reply.result["message_id"], not_helpful, age=60)
    await bot.settle()

    [ack] = bot.stub.calls_of("answerCallbackQuery")
    assert ack.error is not None and TOO_OLD in ack.error
    assert [(f.query_id, f.article_id, f.label) for f in await bot.feedback()] == [
        (rated.query_id, rated.article_id, -1)
    ]
    assert bot.current(reply)["text"].endswith("Отмечено: не то. Вопрос передан администраторам.")
    assert texts.TRY_OTHERS in sent_texts(bot.replies(after=mark))
    title = await bot.title_of(rated.article_id)
    assert title is not None
    alerts = [c for c in bot.stub.calls[mark:] if c.params.get("chat_id") == ADMIN]
    assert sent_texts(alerts) == [admin_texts.not_helpful(rated.query_id, PASSWORD_QUESTION, title)]


async def test_not_helpful_with_no_other_article_left_offers_nothing_more(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER, index_refresh_seconds=0.1)
    keep = await bot.article_id(PASSWORD_ARTICLE)
    looks = bot.index_refreshes.mark()
    async with bot.session_factory() as session:
        await session.execute(update(ArticleRow).where(ArticleRow.id != keep).values(archived=True))
        await session.commit()
    # The periodic refresh finds the change: the running bot serves the one article left.
    await bot.index_refreshes.wait_for_rebuild(after=looks)
    reply = await bot.ask(PASSWORD_QUESTION)
    assert str(reply.params["text"]).startswith(f"<b>{PASSWORD_ARTICLE}</b>")
    _, (_, not_helpful) = TelegramStub.buttons(reply)
    press = await bot.press(reply, not_helpful)
    assert press.answer.params.get("text") == texts.THANKS_NOT_HELPFUL
    assert [call.method for call in press.replies] == ["editMessageText"]
    assert len(await bot.feedback()) == 1


async def test_a_suggestion_archived_after_it_was_offered_is_reported_gone(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_SUGGEST)
    reply = await bot.ask(PASSWORD_QUESTION)
    _, data = TelegramStub.buttons(reply)[0]
    pick = Pick.unpack(data)
    async with bot.session_factory() as session:
        await session.execute(
            update(ArticleRow).where(ArticleRow.id == pick.article_id).values(archived=True)
        )
        await session.commit()
    press = await bot.press(reply, data)
    assert press.alert == texts.ARTICLE_GONE
    assert press.replies == []
    # The click still counts: the person did choose it for this question.
    assert [(f.article_id, f.label) for f in await bot.feedback()] == [(pick.article_id, 1)]


async def test_buttons_under_a_message_telegram_no_longer_shows_still_work(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_SUGGEST)
    reply = await bot.ask(PASSWORD_QUESTION)
    [*picks, _] = TelegramStub.buttons(reply)
    title, data = picks[0]
    gone = 10_000  # a message id the stand-in does not have: Telegram sends date 0
    mark = bot.stub.mark()
    callback = bot.stub.push_callback(USER_ID, gone, data)
    await bot.settle()
    [shown] = bot.replies(after=mark)
    assert str(shown.params["text"]).startswith(f"<b>{title}</b>")
    [ack] = [
        c
        for c in bot.stub.calls_of("answerCallbackQuery")
        if c.params["callback_query_id"] == callback
    ]
    assert ack.error is None
    # A rating pressed under it is stored, though the message cannot be edited.
    (_, helpful), _ = TelegramStub.buttons(shown)
    mark = bot.stub.mark()
    bot.stub.push_callback(USER_ID, gone, helpful)
    await bot.settle()
    assert [c.method for c in bot.stub.calls[mark:] if c.method != "getUpdates"] == [
        "answerCallbackQuery"
    ]
    assert [f.label for f in await bot.feedback()] == [1]


async def test_a_failing_question_gets_one_clear_reply(
    launch_bot: LaunchBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await launch_bot(FORCE_ANSWER)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the search is broken")

    monkeypatch.setattr(SearchService, "answer", broken)
    bot.expected_failures = (RuntimeError,)
    replies = await bot.say(PASSWORD_QUESTION)
    assert sent_texts(replies) == [texts.SEARCH_FAILED]
    [(_, error)] = bot.tracker.failures
    assert "the search is broken" in str(error)


async def test_a_failing_button_gets_one_clear_alert(
    launch_bot: LaunchBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await launch_bot(FORCE_ANSWER)
    reply = await bot.ask(PASSWORD_QUESTION)
    (_, helpful), _ = TelegramStub.buttons(reply)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the feedback store is broken")

    monkeypatch.setattr(FeedbackService, "record", broken)
    bot.expected_failures = (RuntimeError,)
    press = await bot.press(reply, helpful)
    assert press.alert == texts.SEARCH_FAILED
    assert press.replies == []


async def test_an_empty_base_says_so_through_the_bot(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, index_refresh_seconds=0.1)
    async with bot.session_factory() as session:
        await session.execute(update(ArticleRow).values(archived=True))
        await session.commit()
    # The running bot notices within INDEX_REFRESH_SECONDS that nothing is left to serve.
    for _ in range(50):
        replies = await bot.say("как сбросить пароль?")
        if sent_texts(replies) == [texts.EMPTY_BASE]:
            break
    assert sent_texts(replies) == [texts.EMPTY_BASE]
    assert (await bot.queries())[-1].band == "nothing"


async def test_a_very_long_article_comes_whole_in_messages_that_each_fit_telegram(
    launch_bot: LaunchBot,
) -> None:
    title = "Очень длинный заголовок статьи про доступ к стенду " * 5
    title = title[:300].strip()
    body = "Шаг: откройте портал и запросите доступ <к стенду> & дождитесь письма. " * 120
    bot = await launch_bot(FORCE_ANSWER, extra_articles=[ArticleDraft(title, body)])
    replies = await bot.say(title)
    shown = [str(reply.result["text"]) for reply in replies]
    assert len(shown) == 3
    assert shown[0].startswith(title)
    assert "".join("".join(shown).split()) == "".join((title + body).split())
    assert not any(text.endswith(texts.CUT_MARK) for text in shown)
    # Each message is filled up to the room left for the rating note, less one sentence at
    # most; the last one, rated 👎, still fits.
    assert all(len(text.encode("utf-16-le")) // 2 > 4096 - 200 for text in shown[:-1])
    (_, _), (_, not_helpful) = TelegramStub.buttons(replies[-1])
    press = await bot.press(replies[-1], not_helpful)
    [edit, *_] = press.replies
    assert edit.method == "editMessageText"
    assert edit.params["message_id"] == replies[-1].result["message_id"]
    edited = str(edit.result["text"])
    assert edited.endswith("Отмечено: не то. Вопрос передан администраторам.")
    assert len(edited.encode("utf-16-le")) // 2 <= 4096
