"""`faqbot run` as an operator starts it: a real process polling the local Bot API stand-in."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from bot.runtime import telegram_retry
from tests.fakes.databases import copy_database
from tests.fakes.operator_shell import operator_environment, start_faqbot
from tests.fakes.paths import SAMPLE_EVAL
from tests.fakes.telegram import Fault, TelegramStub
from tests.fakes.waiting import wait_until

USER = 4242
START_TIMEOUT = 120.0


def _environment(
    tmp_path: Path, stub: TelegramStub, token: str, stand_in_model: bool = False
) -> dict[str, str]:
    return {
        **operator_environment(tmp_path, stand_in_model),
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": stub.base_url,
        # Plumbing: every question is answered with its best article, whatever its score.
        "SEARCH__ANSWER_THRESHOLD": "0",
        "SEARCH__SUGGEST_THRESHOLD": "0",
    }


async def _run_on_the_sample_base(
    tmp_path: Path,
    stub: TelegramStub,
    sample_base_file: Path,
    stand_in_model: bool = False,
    **extra: str,
) -> tuple[dict[str, str], asyncio.subprocess.Process]:
    """`faqbot run` on a copy of the warm sample database, as a restarted bot finds it; with
    `stand_in_model` (tests of signals and kills, not of answers), a stand-in for the model."""
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    env = {**_environment(tmp_path, stub, stub.token, stand_in_model), **extra}
    return env, await start_faqbot(env, tmp_path, "run")


async def test_run_serves_questions_and_stops_cleanly_on_sigterm(
    tmp_path: Path, sample_base_file: Path
) -> None:
    async with TelegramStub() as stub:
        admin = 999
        stub.open_chat(admin)  # the admin pressed Start when setting the bot up
        _, bot = await _run_on_the_sample_base(
            tmp_path, stub, sample_base_file, ADMIN_IDS=str(admin)
        )
        try:
            await stub.wait_for("getUpdates", timeout=START_TIMEOUT)
            # Everyone's command menu, and the admin's own with the admin commands.
            menus = stub.calls_of("setMyCommands")
            assert [c.error for c in menus] == [None, None]
            everyone = [c["command"] for c in menus[0].params["commands"]]
            theirs = [c["command"] for c in menus[1].params["commands"]]
            assert everyone == ["start", "help"]
            assert theirs[:2] == everyone and {"add", "retrain", "model", "settings"} <= set(theirs)
            assert menus[1].params["scope"] == {"type": "chat", "chat_id": admin}
            mark = stub.mark()
            stub.push_text(USER, "Как получить доступ к логам?")
            reply = await stub.wait_for_reply(USER, after=mark, timeout=30)
            assert str(reply.params["text"]).startswith("<b>Инструкция по получению логов</b>")
            assert reply.params.get("parse_mode") == "HTML"
        finally:
            bot.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(bot.communicate(), 60)
        assert bot.returncode == 0, stderr.decode()
        log = stderr.decode()
        assert "query 1: band=answer" in log
        assert "encoding" not in log, "the warm database's cached vectors serve at once"
        assert stub.token not in log


async def test_run_with_a_wrong_token_says_so_and_fails_fast(tmp_path: Path) -> None:
    async with TelegramStub() as stub:
        env = _environment(tmp_path, stub, "123:wrong")
        bot = await start_faqbot(env, tmp_path, "run")
        _, stderr = await asyncio.wait_for(bot.communicate(), 60)
    assert bot.returncode == 2
    assert "Telegram rejected BOT_TOKEN" in stderr.decode()


async def test_a_malformed_api_url_is_refused_without_showing_the_token(tmp_path: Path) -> None:
    token = "123456789:AAsecret-token-never-printed"
    env = {**operator_environment(tmp_path), "BOT_TOKEN": token, "TELEGRAM_API_URL": "http://[::1"}
    process = await start_faqbot(env, tmp_path, "run")
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    output = (stdout + stderr).decode()
    assert process.returncode == 2
    assert "TELEGRAM_API_URL" in output.upper() and "not a URL" in output
    assert "secret-token" not in output


async def test_telegram_failing_at_start_up_is_one_clear_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    async with TelegramStub() as stub:
        # 429 on every attempt: the bot obeys retry_after a bounded number of times, then
        # gives up with one line.
        stub.fail_next("getMe", Fault("retry_after", 1), times=10)
        env = _environment(tmp_path, stub, stub.token)
        bot = await start_faqbot(env, tmp_path, "run")
        stdout, stderr = await asyncio.wait_for(bot.communicate(), 60)
    output = (stdout + stderr).decode()
    assert bot.returncode == 2
    assert "Cannot reach the Telegram Bot API" in output
    assert "Traceback" not in output
    assert stub.token not in output
    assert len(stub.calls_of("getMe")) == len(telegram_retry.BACKOFF_SECONDS) + 1


def _answered(stub: TelegramStub, users: range) -> dict[int, int]:
    """How many replies each user got (a send whose answer was lost reached the chat too)."""
    counts = dict.fromkeys(users, 0)
    for call in stub.calls_of("sendMessage"):
        chat = call.params.get("chat_id")
        if isinstance(chat, int) and chat in counts and (call.error is None or call.result):
            counts[chat] += 1
    return counts


async def test_sigkill_in_the_middle_of_a_burst_loses_no_question(
    tmp_path: Path, sample_base_file: Path
) -> None:
    users = range(5000, 5100)
    questions = [json.loads(line)["query"] for line in SAMPLE_EVAL.read_text().splitlines()]
    async with TelegramStub() as stub:
        env, bot = await _run_on_the_sample_base(
            tmp_path, stub, sample_base_file, stand_in_model=True
        )
        try:
            await stub.wait_for("getUpdates", timeout=START_TIMEOUT)
            for user, question in zip(users, questions, strict=False):
                stub.push_text(user, question)
            await wait_until(
                lambda: sum(1 for n in _answered(stub, users).values() if n) >= 20,
                60,
                "20 questions of the burst answered",
            )
            bot.kill()  # SIGKILL: no handler, no clean-up, whatever was in hand
            await bot.wait()
            before_kill = {user for user, n in _answered(stub, users).items() if n}
            answered_before = len(before_kill)
            # Telegram handed over more than was answered: the crash has something to lose.
            assert answered_before < len(users), "the burst ended before the kill"

            bot = await start_faqbot(env, tmp_path, "run")
            await wait_until(
                lambda: all(_answered(stub, users).values()),
                START_TIMEOUT,
                "every question of the burst answered after the restart",
            )
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(bot.communicate(), 60)
        assert bot.returncode == 0, stderr.decode()

    with closing(sqlite3.connect(tmp_path / "kb.sqlite3")) as database:
        stored = Counter(user for (user,) in database.execute("SELECT user_id FROM queries"))
    with closing(sqlite3.connect(tmp_path / "data" / "telegram-updates.sqlite3")) as journal:
        (unhandled,) = journal.execute("SELECT count(*) FROM updates WHERE handled_at IS NULL")
    replies = _answered(stub, users)
    repeated = sorted(user for user, n in replies.items() if n > 1)
    print(
        f"SIGKILL after {answered_before} of {len(users)} answered; after the restart all "
        f"{len(users)} answered, {len(repeated)} twice; {sum(stored.values())} stored"
    )
    assert stored == Counter(dict.fromkeys(users, 1)), "every question stored exactly once"
    assert unhandled == (0,)
    # A reply repeats only if the kill fell between its send and the journal's note of it,
    # a synchronous local commit right after. Questions are logged and answered in groups,
    # so a kill can catch a group's replies sent and not yet noted (up to 18 seen), but only
    # replies sent before the kill: none is repeated after the restart.
    assert set(repeated) <= before_kill, sorted(set(repeated) - before_kill)


async def test_sigterm_lets_the_update_in_hand_finish_and_a_second_signal_does_not_wait(
    tmp_path: Path, sample_base_file: Path
) -> None:
    async with TelegramStub() as stub:
        env, bot = await _run_on_the_sample_base(
            tmp_path, stub, sample_base_file, stand_in_model=True
        )
        try:
            await stub.wait_for("getUpdates", timeout=START_TIMEOUT)
            # Telegram is slow to take the reply: the update is in hand when the stop comes.
            stub.fail_next("sendMessage", Fault("slow", 3.0))
            stub.push_text(5001, "Как получить доступ к логам?")
            await wait_until(lambda: len(stub.faults_injected) == 1, 60, "the reply on its way")
            stopped_at = asyncio.get_running_loop().time()
            bot.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(bot.communicate(), 60)
            # It waited for the reply (3 s of a slow Telegram), then stopped: nothing left.
            assert bot.returncode == 0, stderr.decode()
            assert asyncio.get_running_loop().time() - stopped_at >= 2.5
            assert [int(c.params["chat_id"]) for c in stub.calls_of("sendMessage")] == [5001]

            # Now a Telegram that takes a minute: the second signal stops without waiting,
            # and the update is left for the next start.
            bot = await start_faqbot(env, tmp_path, "run")
            await stub.wait_for("getUpdates", timeout=START_TIMEOUT, after=stub.mark())
            stub.fail_next("sendMessage", Fault("slow", 60.0))
            stub.push_text(5002, "Как получить доступ к логам?")
            await wait_until(lambda: len(stub.faults_injected) == 2, 60, "the reply on its way")
            stopped_at = asyncio.get_running_loop().time()
            bot.send_signal(signal.SIGTERM)
            bot.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(bot.communicate(), 60)
            assert asyncio.get_running_loop().time() - stopped_at < 8, "did not wait 10 s"
            assert bot.returncode == 0, stderr.decode()  # the first signal was SIGTERM
            assert b"handled at the next start" in stderr
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
    with closing(sqlite3.connect(tmp_path / "data" / "telegram-updates.sqlite3")) as journal:
        (unhandled,) = journal.execute("SELECT count(*) FROM updates WHERE handled_at IS NULL")
    assert unhandled == (1,), "the second question waits in the journal"
