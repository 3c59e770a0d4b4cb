"""A long article reaches people whole, as several messages: split between paragraphs, the
title in the first, 👍/👎 under the last, and a press marks that last one."""

from __future__ import annotations

from html import escape

import pytest

from bot import keyboards
from bot.app import create_bot
from bot.keyboards import Pick
from bot.notifications import send_article, tell_askers
from bot.runtime.journal import noting_replies
from bot.texts import user as texts
from bot.texts.admin import answer_found
from knowledge_base.articles import ArticleService
from knowledge_base.types import ArticleDraft
from tests.fakes.harness import FORCE_ANSWER, FORCE_NOTHING, FORCE_SUGGEST, BotHarness, LaunchBot
from tests.fakes.replies import buttons, sent_texts, shown_text
from tests.fakes.telegram import Call, message_as_sent

TITLE = "Регламент выдачи доступа к тестовому стенду"
SENTENCE = "Откройте портал, запросите доступ <к стенду> & дождитесь письма. "


def _body(length: int) -> str:
    """Paragraphs of a few sentences, exactly `length` characters, ending a sentence."""
    paragraphs = []
    n = 0
    while sum(len(p) + 2 for p in paragraphs) < length:
        paragraphs.append(f"Шаг {n}. " + (SENTENCE * 4).strip())
        n += 1
    text = "\n\n".join(paragraphs)[: length - 1].rstrip()
    text += "." * (length - len(text))
    assert len(text) == length
    return text


def _squeezed(text: str) -> str:
    """The text without its white space: splitting drops separators, never a character."""
    return "".join(text.split())


async def _ask_for_parts(bot: BotHarness, count: int) -> list[Call]:
    replies = await bot.say(TITLE)
    assert [call.method for call in replies] == ["sendMessage"] * count, sent_texts(replies)
    return replies


def _assert_whole_with_buttons_on_the_last(parts: list[Call], body: str) -> None:
    shown = [shown_text(call) for call in parts]
    assert shown[0].startswith(f"{TITLE}\n\n")
    assert _squeezed("".join(shown)) == _squeezed(TITLE + body)
    assert all(texts.CUT_MARK not in text for text in shown)
    assert all(not buttons(call) for call in parts[:-1])
    labels = [label for label, _data in buttons(parts[-1])]
    assert labels == [texts.BUTTON_HELPFUL, texts.BUTTON_NOT_HELPFUL]


async def _press_not_helpful_on_the_last(bot: BotHarness, parts: list[Call]) -> None:
    before = [shown_text(bot.current(call)) for call in parts]
    (_, _), (_, not_helpful) = buttons(parts[-1])
    press = await bot.press(parts[-1], not_helpful)
    edits = [call for call in press.replies if call.method == "editMessageText"]
    assert [edit.params["message_id"] for edit in edits] == [parts[-1].result["message_id"]]
    last = shown_text(bot.current(parts[-1]))
    assert last == before[-1] + "\n\nОтмечено: не то. Вопрос передан администраторам."
    assert "reply_markup" not in bot.current(parts[-1])
    # The earlier parts are as they were.
    assert [shown_text(bot.current(call)) for call in parts[:-1]] == before[:-1]


@pytest.mark.parametrize(("length", "messages"), [(4_090, 2), (9_000, 3)])
async def test_a_long_article_comes_whole_in_messages_with_buttons_on_the_last(
    launch_bot: LaunchBot, length: int, messages: int
) -> None:
    body = _body(length)
    bot = await launch_bot(FORCE_ANSWER, extra_articles=[ArticleDraft(TITLE, body)])
    parts = await _ask_for_parts(bot, messages)
    _assert_whole_with_buttons_on_the_last(parts, body)
    # Split between paragraphs: each message after the first starts a step.
    assert all(shown_text(call).startswith("Шаг ") for call in parts[1:])
    assert all("&lt;к стенду&gt; &amp;" in text for text in sent_texts(parts))
    await _press_not_helpful_on_the_last(bot, parts)
    [row] = await bot.feedback()
    assert row.label == -1


async def test_a_long_formatted_article_keeps_its_formatting_in_every_message(
    launch_bot: LaunchBot,
) -> None:
    step = (
        "<b>Шаг {n}.</b> <i>Откройте <u>портал</u>, запросите</i> доступ "
        "<code>{lt}к стенду{gt}</code> &amp; дождитесь письма."
    )
    steps = [step.format(n=n, lt="&lt;", gt="&gt;") for n in range(110)]
    code = "\n".join(f"    grant_access(user_{n})" for n in range(60))
    middle = f'<pre><code class="language-python">{escape(code)}</code></pre>'
    # A bold run across many paragraphs: it must close at each split and open again after.
    html = "<b>" + "\n\n".join(steps[:60]).replace("<b>", "").replace("</b>", "") + "</b>"
    html += f"\n\n{middle}\n\n" + "\n\n".join(steps[60:])
    plain = [s.format(n=n, lt="<", gt=">") for n, s in enumerate([step] * 110)]
    body = "\n\n".join(plain[:60]) + f"\n\n{code}\n\n" + "\n\n".join(plain[60:])
    for tag in ("<b>", "</b>", "<i>", "</i>", "<u>", "</u>", "<code>", "</code>", "&amp;"):
        body = body.replace(tag, "&" if tag == "&amp;" else "")
    assert 9_000 < len(body) < 13_000
    bot = await launch_bot(FORCE_ANSWER, extra_articles=[ArticleDraft(TITLE, body, body_html=html)])
    expected = len(texts.article_parts(TITLE, body, html))
    assert expected == 3
    parts = await _ask_for_parts(bot, expected)
    _assert_whole_with_buttons_on_the_last(parts, body)
    for call in parts:
        kinds = {entity["type"] for entity in call.result.get("entities", [])}
        assert {"bold", "italic", "code"} <= kinds, kinds
    # The code block is in one message, whole.
    assert sum(code in shown_text(call) for call in parts) == 1
    # The second message opens with the bold run reopened (it spans the first split).
    assert sent_texts(parts)[1].startswith("<b>")
    await _press_not_helpful_on_the_last(bot, parts)


async def test_a_picked_suggestion_that_is_long_comes_whole_too(launch_bot: LaunchBot) -> None:
    body = _body(9_000)
    bot = await launch_bot(FORCE_SUGGEST, extra_articles=[ArticleDraft(TITLE, body)])
    offer = await bot.ask(TITLE)
    article_id = await bot.article_id(TITLE)
    [pick] = [
        data
        for _label, data in buttons(offer)
        if data.startswith(Pick.__prefix__) and Pick.unpack(data).article_id == article_id
    ]
    press = await bot.press(offer, pick)
    parts = [call for call in press.replies if call.method == "sendMessage"]
    assert len(parts) == 3
    _assert_whole_with_buttons_on_the_last(parts, body)
    await _press_not_helpful_on_the_last(bot, parts)


async def test_a_person_told_their_question_got_a_long_article_gets_it_whole(
    launch_bot: LaunchBot,
) -> None:
    body = _body(9_000)
    bot = await launch_bot(FORCE_NOTHING, extra_articles=[ArticleDraft(TITLE, body)])
    question = "как попасть на тестовый стенд"
    await bot.say(question)
    [query] = await bot.queries()
    async with bot.session_factory() as session:
        article = await ArticleService(session).get(await bot.article_id(TITLE))
    assert article is not None
    mark = bot.stub.mark()
    client = create_bot(bot.settings)
    try:
        reached = await tell_askers(client, [(bot.user_id, query.id, question)], article)
    finally:
        await client.session.close()
    assert reached == 1
    told, *parts = bot.replies(after=mark)
    assert shown_text(told) == message_as_sent(answer_found(question))
    assert len(parts) == 3
    _assert_whole_with_buttons_on_the_last(parts, body)


async def test_a_long_answer_is_noted_as_handled_only_once_its_last_message_is_delivered(
    launch_bot: LaunchBot,
) -> None:
    """A crash between two messages of an answer must send it again at the next start, not
    leave it half sent: the update journal's note comes with the last message, not the first."""
    body = _body(9_000)
    bot = await launch_bot(FORCE_NOTHING, extra_articles=[ArticleDraft(TITLE, body)])
    bot.stub.open_chat(bot.user_id)
    async with bot.session_factory() as session:
        article = await ArticleService(session).get(await bot.article_id(TITLE))
    assert article is not None
    sent_when_noted: list[int] = []
    client = create_bot(bot.settings)
    try:
        with noting_replies(lambda: sent_when_noted.append(len(bot.stub.calls_of("sendMessage")))):
            await send_article(
                client, bot.user_id, article, keyboards.rating(1, article.id), as_reply=True
            )
    finally:
        await client.session.close()
    assert sent_when_noted and min(sent_when_noted) == 3
