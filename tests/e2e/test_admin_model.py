"""/retrain and /model as an admin uses them: a real `faqbot train` process on a tiny run, its
status message, and a rollback behind a confirmation."""

from __future__ import annotations

from pathlib import Path

from bot.config import ModelSettings, TrainingSettings
from bot.keyboards import AdminRollback
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from tests.fakes.harness import FORCE_ANSWER, BotHarness, LaunchBot
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.replies import shown_text
from tests.fakes.telegram import Call, TelegramStub

# Questions people asked and confirmed with 👍: two or more per article, so some are held out.
CONFIRMED = [
    "как сбросить пароль?",
    "забыл пароль, что делать",
    "где поменять пароль от учётки",
    "как получить доступ к логам?",
    "где посмотреть логи сервиса",
    "нужны логи с прода",
    "как подключиться к vpn",
    "не работает впн из дома",
]


async def _status_when_done(bot: BotHarness, status: Call, timeout: float = 240) -> str:
    return await bot.shown_once(
        status,
        lambda text: text.startswith(
            ("Обучение закончено", "Обучение не запущено", "Обучение прервалось")
        ),
        timeout,
    )


async def test_retrain_reports_progress_and_the_table_and_model_rolls_back(
    launch_bot: LaunchBot, tmp_path: Path, e5_onnx_encoder: OnnxEncoder
) -> None:
    bot = await launch_bot(
        FORCE_ANSWER,
        admin_ids=frozenset({ADMIN}),
        # A tiny run into a models folder of the test's own; promoted whatever it scores.
        model=ModelSettings(path=str(e5_onnx_encoder.path), models_dir=tmp_path / "models"),
        training=TrainingSettings(epochs=0.05, promotion_margin=1.0),
    )
    # Nobody has confirmed an answer yet: nothing to prove a new model on.
    [refused] = await bot.say("/retrain", user_id=ADMIN)
    assert (await _status_when_done(bot, refused)).startswith(
        "Обучение не запущено: не на чем проверить новую модель"
    )
    for question in CONFIRMED:
        reply = await bot.ask(question)
        (_, helpful), _ = TelegramStub.buttons(reply)
        await bot.press(reply, helpful)

    [status] = await bot.say("/retrain", user_id=ADMIN)
    assert shown_text(status) == admin_texts.RETRAIN_STARTED
    # (The status is being edited meanwhile: only new messages count here.)
    [busy] = [c for c in await bot.say("/retrain", user_id=ADMIN) if c.method == "sendMessage"]
    assert shown_text(busy) == admin_texts.RETRAIN_RUNNING
    done = await _status_when_done(bot, status)
    lines = done.splitlines()
    assert lines[1].startswith("Было → стало на вопросах, отложенных при обучении (")
    # One message, edited as the training went: preparing, then its steps, then the table.
    edits = [
        str(c.params["text"])
        for c in bot.stub.calls_of("editMessageText")
        if (c.params.get("chat_id"), c.params.get("message_id"))
        == (ADMIN, status.result["message_id"])
    ]
    assert edits[0] == admin_texts.RETRAIN_PREPARING
    assert any(e.startswith("Обучение: шаг ") and " из " in e for e in edits), edits
    assert [line.split()[0] for line in lines[2:5]] == ["top-1", "top-3", "MRR@10"]
    assert all("→" in line for line in lines[2:5])
    assert lines[-1].startswith("✅ Новая модель «ft-")
    version = lines[-1].split("«")[1].split("»")[0]
    # The bot already answers with it: no restart, no periodic refresh waited for.
    reply = await bot.ask("как сбросить пароль?")
    [query] = [q for q in await bot.queries() if q.id == max(q.id for q in await bot.queries())]
    assert query.model_version.startswith(version)
    assert query.text == "как сбросить пароль?" and int(reply.params["chat_id"]) == query.user_id

    [card] = [c for c in await bot.say("/model", user_id=ADMIN) if c.method == "sendMessage"]
    assert shown_text(card).startswith(f"Отвечает модель {version}")
    assert "работала раньше" in shown_text(card)
    [(label, ask)] = TelegramStub.buttons(card)
    assert (label, ask) == (
        admin_texts.BUTTON_ROLLBACK,
        AdminRollback(step="ask", current=version).pack(),
    )
    confirm = (await bot.press(card, ask, user_id=ADMIN)).replies[0]
    assert shown_text(confirm).startswith(f"Откатить модель с «{version}» на «")
    do = AdminRollback(step="do", current=version).pack()
    assert do in [d for _, d in TelegramStub.buttons(confirm)]
    done_press = await bot.press(confirm, do, user_id=ADMIN)
    base = e5_onnx_encoder.path.name
    assert shown_text(done_press.replies[0]) == admin_texts.ROLLED_BACK.format(name=base)
    # A second press (a double tap, a replay) rolls nothing further back.
    again = await bot.press(confirm, do, user_id=ADMIN)
    assert shown_text(again.replies[0]) == admin_texts.MODEL_CHANGED
    await bot.ask("как сбросить пароль?")
    latest = max(await bot.queries(), key=lambda q: q.id)
    assert latest.model_version == e5_onnx_encoder.version
    [log] = await bot.say("/audit", user_id=ADMIN)
    assert "откат модели" in shown_text(log)


async def test_nobody_else_sees_or_changes_the_model(launch_bot: LaunchBot) -> None:
    bot = await launch_bot(FORCE_ANSWER, admin_ids=frozenset({ADMIN}))
    for command in ("/model", "/retrain"):
        [reply] = await bot.say(command, user_id=USER_ID)
        assert shown_text(reply) == texts.UNKNOWN_COMMAND
    message = await bot.ask("как сбросить пароль?")
    for step in ("ask", "do", "cancel"):
        forged = AdminRollback(step=step, current="multilingual-e5-small").pack()
        press = await bot.press(message, forged, user_id=USER_ID)
        assert press.alert == admin_texts.NOT_FOR_YOU
