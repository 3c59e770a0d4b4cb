"""/retrain and /model as an admin uses them: a real `faqbot train` process on a tiny run, its
one status message and the admin's choice when it proves too little; a rollback and a switch to
any earlier version behind a confirmation."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.config import ModelSettings, TrainingSettings
from bot.keyboards import AdminActivate, AdminRollback
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from tests.fakes.harness import FORCE_ANSWER, BotHarness, LaunchBot
from tests.fakes.model_versions import record_training, version_statuses
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


async def test_retrain_refuses_before_starting_and_too_few_questions_wait_for_the_admin(
    launch_bot: LaunchBot, tmp_path: Path, e5_onnx_encoder: OnnxEncoder
) -> None:
    bot = await launch_bot(
        FORCE_ANSWER,
        admin_ids=frozenset({ADMIN}),
        # A tiny run into a models folder of the test's own; not worse whatever it scores.
        model=ModelSettings(path=str(e5_onnx_encoder.path), models_dir=tmp_path / "models"),
        training=TrainingSettings(epochs=0.05, promotion_margin=1.0),
    )
    # Nobody has confirmed an answer yet: nothing to prove a new model on, said at once,
    # without announcing a training first.
    [refused] = await bot.say("/retrain", user_id=ADMIN)
    assert refused.method == "sendMessage"
    assert shown_text(refused).startswith("Обучение не запущено: не на чем проверить новую модель")
    assert not bot.stub.calls_of("editMessageText")
    for question in CONFIRMED:
        reply = await bot.ask(question)
        (_, helpful), _ = TelegramStub.buttons(reply)
        await bot.press(reply, helpful)

    [status] = await bot.say("/retrain", user_id=ADMIN)
    assert (
        shown_text(status)
        == admin_texts.RETRAIN_STARTED
        == "Обучение запущено: готовлю данные и модель…"
    )
    # (The status is being edited meanwhile: only new messages count here.)
    [busy] = [c for c in await bot.say("/retrain", user_id=ADMIN) if c.method == "sendMessage"]
    assert shown_text(busy) == admin_texts.RETRAIN_RUNNING
    done = await _status_when_done(bot, status)
    lines = done.splitlines()
    assert lines[1].startswith("Было → стало на вопросах, отложенных при обучении (")
    held_out = int(lines[1].split("(")[1].split(")")[0])
    assert held_out < 10
    # One message, edited as the training went: never a step 0 or an unknown time left.
    edits = [
        str(c.params["text"])
        for c in bot.stub.calls_of("editMessageText")
        if (c.params.get("chat_id"), c.params.get("message_id"))
        == (ADMIN, status.result["message_id"])
    ]
    progress = [e for e in edits if e.startswith("Обучение запущено: шаг ")]
    assert not [e for e in progress if "шаг 0 " in e or "?" in e], edits
    assert len(edits) == len(progress) + 1, edits
    assert [line.split()[0] for line in lines[2:5]] == ["top-1", "top-3", "MRR@10"]
    assert f"Отложенных вопросов слишком мало, чтобы судить ({held_out})" in done
    version = lines[-1].split("«")[1].split("»")[0]
    assert version.startswith("ft-")
    # Not promoted by itself: the base model still answers, and the admin chooses.
    await bot.ask("как сбросить пароль?")
    assert max(await bot.queries(), key=lambda q: q.id).model_version == e5_onnx_encoder.version
    shown = bot.current(status)
    anyway = AdminActivate(step="do", name=version).pack()
    assert TelegramStub.buttons(shown) == [
        (admin_texts.BUTTON_ACTIVATE_ANYWAY, anyway),
        (admin_texts.BUTTON_KEEP_CURRENT, AdminActivate(step="keep", name=version).pack()),
    ]
    [log] = await bot.say("/audit", user_id=ADMIN)
    # The training ran in its own process: the name still is the one /retrain came with.
    assert (
        f"User {ADMIN} (@user{ADMIN}) · модель — обучена новая модель, ждёт решения"
        in shown_text(log)
    )

    switched = await bot.press(status, anyway, user_id=ADMIN)
    assert shown_text(switched.replies[-1]) == admin_texts.ACTIVATED.format(name=version)
    # The bot already answers with it: no restart, no periodic refresh waited for.
    await bot.ask("как сбросить пароль?")
    assert max(await bot.queries(), key=lambda q: q.id).model_version.startswith(version)
    [log] = await bot.say("/audit", user_id=ADMIN)
    base = e5_onnx_encoder.path.name
    assert f"модель — включена другая модель: «{base}» → «{version}»" in shown_text(log)


async def test_model_rolls_back_and_switches_to_any_earlier_version(
    launch_bot: LaunchBot, tmp_path: Path, e5_onnx_encoder: OnnxEncoder
) -> None:
    models = tmp_path / "models"
    bot = await launch_bot(
        FORCE_ANSWER,
        admin_ids=frozenset({ADMIN}),
        model=ModelSettings(path=str(e5_onnx_encoder.path), models_dir=models),
    )
    # Two versions trained earlier from models/base/e5, each a copy of the base model so that
    # every one of them can serve.
    shutil.copytree(e5_onnx_encoder.path, models / "base" / "e5")
    for name in ("ft-20261207-153000", "ft-20261207-160000"):
        await record_training(bot.session_factory, models, name, promote=True)
        folder = models / name
        shutil.rmtree(folder)
        shutil.copytree(e5_onnx_encoder.path, folder)
    older, newer = "ft-20261207-153000", "ft-20261207-160000"
    # The base model is shown by its own name, without the folder of the base models.
    base, shown_base = "base/e5", "e5"

    [card] = [c for c in await bot.say("/model", user_id=ADMIN) if c.method == "sendMessage"]
    assert shown_text(card).startswith(f"Отвечает модель {newer}")
    assert "отвечала раньше" in shown_text(card)
    assert TelegramStub.buttons(card) == [
        (admin_texts.BUTTON_ROLLBACK, AdminRollback(step="ask", current=newer).pack()),
        (f"Включить {older}", AdminActivate(step="ask", name=older).pack()),
        (f"Включить {shown_base}", AdminActivate(step="ask", name=base).pack()),
    ]
    # Back one step, behind a confirmation; a replay rolls nothing further back.
    confirm = (
        await bot.press(card, AdminRollback(step="ask", current=newer).pack(), user_id=ADMIN)
    ).replies[0]
    assert shown_text(confirm).startswith(f"Откатить модель с «{newer}» на «{older}»")
    do = AdminRollback(step="do", current=newer).pack()
    assert shown_text((await bot.press(confirm, do, user_id=ADMIN)).replies[0]) == (
        admin_texts.ROLLED_BACK.format(name=older)
    )
    again = await bot.press(confirm, do, user_id=ADMIN)
    assert shown_text(again.replies[0]) == admin_texts.MODEL_CHANGED

    # «Оставить текущую» switches nothing and says what answers.
    keep = await bot.press(card, AdminActivate(step="keep", name=newer).pack(), user_id=ADMIN)
    assert shown_text(keep.replies[-1]) == admin_texts.KEPT_CURRENT.format(
        current=older, name=newer
    )
    # Any earlier version, the base model included, behind a confirmation.
    ask = AdminActivate(step="ask", name=base).pack()
    confirm = (await bot.press(card, ask, user_id=ADMIN)).replies[0]
    assert shown_text(confirm) == (
        f"Включить модель «{shown_base}» вместо «{older}»? Поиск переключится сразу."
    )
    do = AdminActivate(step="do", name=base).pack()
    assert TelegramStub.buttons(confirm)[0] == (admin_texts.BUTTON_ACTIVATE_CONFIRM, do)
    done = await bot.press(confirm, do, user_id=ADMIN)
    assert shown_text(done.replies[-1]) == admin_texts.ACTIVATED.format(name=shown_base)
    await bot.ask("как сбросить пароль?")
    assert max(await bot.queries(), key=lambda q: q.id).model_version.startswith("e5-")
    # A double tap, and a forged or stale name, switch nothing and say why.
    again = await bot.press(confirm, do, user_id=ADMIN)
    assert shown_text(again.replies[-1]) == admin_texts.ACTIVATE_ALREADY.format(name=shown_base)
    forged = AdminActivate(step="do", name="ft-20991231-235900").pack()
    press = await bot.press(confirm, forged, user_id=ADMIN)
    assert shown_text(press.replies[-1]) == (
        admin_texts.ACTIVATE_UNKNOWN.format(name="ft-20991231-235900")
    )
    assert (await version_statuses(bot.session_factory, models))[base] == "active"

    [log] = await bot.say("/audit", user_id=ADMIN)
    lines = shown_text(log).splitlines()
    assert (
        f"User {ADMIN} (@user{ADMIN}) · модель — включена другая модель: «{older}» → "
        f"«{shown_base}»" in lines[0]
    )
    assert f"модель — откат модели: «{newer}» → «{older}»" in lines[1]


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
    for step in ("ask", "do", "cancel", "keep"):
        forged = AdminActivate(step=step, name="multilingual-e5-small").pack()
        press = await bot.press(message, forged, user_id=USER_ID)
        assert press.alert == admin_texts.NOT_FOR_YOU


async def test_a_version_that_failed_its_check_says_why_before_it_is_switched_on(
    launch_bot: LaunchBot, tmp_path: Path, e5_onnx_encoder: OnnxEncoder
) -> None:
    models = tmp_path / "models"
    bot = await launch_bot(
        FORCE_ANSWER,
        admin_ids=frozenset({ADMIN}),
        model=ModelSettings(path=str(e5_onnx_encoder.path), models_dir=models),
    )
    # Before any training the card says what /retrain would do: nobody has confirmed an
    # answer yet, so nothing could judge a new model.
    [card] = [c for c in await bot.say("/model", user_id=ADMIN) if c.method == "sendMessage"]
    assert shown_text(card).splitlines()[-1] == (
        "/retrain сейчас не запустится: не на чем проверить новую модель — нужны хотя бы два "
        "отмеченных вопроса к одной статье."
    )
    # Two trainings that were not switched on (recorded, not trained): one worse on its
    # held-out questions, one not worse but judged on too few of them.
    worse, held = "ft-20261207-153000", "ft-20261207-160000"
    await record_training(
        bot.session_factory,
        models,
        worse,
        promote=False,
        metrics={
            "data": {"held_out": 40},
            "before": {"top1": 0.75, "top3": 0.9, "mrr10": 0.8},
            "after": {"top1": 0.6, "top3": 0.85, "mrr10": 0.7},
            "promoted": False,
            "held": False,
        },
    )
    await record_training(
        bot.session_factory,
        models,
        held,
        promote=False,
        metrics={
            "data": {"held_out": 3},
            "before": {"top1": 0.5, "top3": 1.0, "mrr10": 0.7},
            "after": {"top1": 0.5, "top3": 1.0, "mrr10": 0.75},
            "promoted": False,
            "held": True,
        },
    )
    [card] = [c for c in await bot.say("/model", user_id=ADMIN) if c.method == "sendMessage"]
    assert f"• {worse} — не прошла проверку" in shown_text(card)
    base = e5_onnx_encoder.path.name

    ask = AdminActivate(step="ask", name=worse).pack()
    confirm = (await bot.press(card, ask, user_id=ADMIN)).replies[0]
    assert shown_text(confirm).splitlines() == [
        f"⚠️ Модель «{worse}» не прошла проверку: на вопросах, отложенных при обучении (40), "
        "она хуже той, от которой училась (было → стало):",
        "top-1  0.750 → 0.600",
        "top-3  0.900 → 0.850",
        "MRR@10 0.800 → 0.700",
        "",
        f"Всё равно включить? Вместо «{base}» сразу начнёт отвечать «{worse}».",
    ]
    assert TelegramStub.buttons(confirm) == [
        (admin_texts.BUTTON_ACTIVATE_ANYWAY, AdminActivate(step="do", name=worse).pack()),
        (admin_texts.BUTTON_CANCEL, AdminActivate(step="cancel", name=worse).pack()),
    ]

    ask = AdminActivate(step="ask", name=held).pack()
    confirm = (await bot.press(card, ask, user_id=ADMIN)).replies[0]
    text = shown_text(confirm)
    assert text.startswith(
        f"⚠️ Модель «{held}» не прошла проверку: отложенных вопросов было слишком мало (3)"
    )
    assert text.endswith(f"Всё равно включить? Вместо «{base}» сразу начнёт отвечать «{held}».")
    cancel = AdminActivate(step="cancel", name=held).pack()
    assert TelegramStub.buttons(confirm)[-1] == (admin_texts.BUTTON_CANCEL, cancel)
    await bot.press(confirm, cancel, user_id=ADMIN)
    # Nothing was switched on.
    statuses = await version_statuses(bot.session_factory, models)
    assert statuses[worse] == statuses[held] == "rejected"
