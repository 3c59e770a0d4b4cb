"""/stats: the numbers in words and a chart that is a real PNG; admins only."""

from __future__ import annotations

from bot.texts import user as texts
from tests.fakes.harness import FORCE_ANSWER, LaunchBot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import shown_text
from tests.fakes.telegram import TelegramStub

PNG = b"\x89PNG\r\n\x1a\n"


async def test_stats_sends_the_numbers_and_a_png_chart(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    for question in ("как сбросить пароль?", "как получить доступ к логам?", "забыл пароль"):
        reply = await bot.ask(question)
        (_, helpful), (_, unhelpful) = TelegramStub.buttons(reply)
        await bot.press(reply, helpful if "логам" not in question else unhelpful)
    text, photo = [
        c for c in await bot.say("/stats 7", user_id=ADMIN) if c.method != "editMessageText"
    ]
    shown = shown_text(text)
    assert shown.startswith("За 7 дней: 3 вопроса.")
    assert "Ответ статьёй 100%, подсказки 0%, без ответа 0%." in shown
    assert "👍 2, 👎 1 — полезных 67%." in shown
    assert "Чаще всего отвечали:" in shown and "Модель: multilingual-e5-small" in shown
    assert photo.method == "sendPhoto" and photo.error is None
    picture = bot.stub.file(photo.result["photo"][-1]["file_id"]).content
    assert picture.startswith(PNG) and len(picture) > 10_000


async def test_nobody_else_gets_the_stats(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    [refused] = await bot.say("/stats", user_id=USER_ID)
    assert shown_text(refused) == texts.UNKNOWN_COMMAND
    assert bot.stub.calls_of("sendPhoto") == []


async def test_stats_with_a_word_says_what_it_accepts_and_sends_no_chart(
    launch_bot: LaunchBot,
) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    [reply] = await bot.say("/stats квартал", user_id=ADMIN)
    assert shown_text(reply) == "Не понял «квартал». Напишите число дней: /stats 7 (от 1 до 90)."
    assert bot.stub.calls_of("sendPhoto") == []


async def test_stats_takes_a_week_and_a_month_in_words(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    await bot.ask("как сбросить пароль?")
    for word, heading in (("неделя", "За 7 дней: 1 вопрос."), ("Месяц", "За 30 дней: 1 вопрос.")):
        text, photo = [
            c
            for c in await bot.say(f"/stats {word}", user_id=ADMIN)
            if c.method != "editMessageText"
        ]
        assert shown_text(text).startswith(heading)
        assert photo.method == "sendPhoto"


async def test_stats_out_of_range_is_brought_into_it_and_says_so(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    text, _ = await bot.say("/stats 1000", user_id=ADMIN)
    assert shown_text(text).startswith(
        "/stats 1000: можно от 1 до 90 дней — показываю за 90 дней.\n\nЗа 90 дней:"
    )
    text, _ = await bot.say("/stats 0", user_id=ADMIN)
    assert shown_text(text).startswith(
        "/stats 0: можно от 1 до 90 дней — показываю за 1 день.\n\nЗа 1 день:"
    )


async def test_stats_names_the_model_without_its_digest(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    text, _ = await bot.say("/stats", user_id=ADMIN)
    [model_line] = [line for line in shown_text(text).splitlines() if line.startswith("Модель")]
    assert model_line == "Модель: multilingual-e5-small."
