"""`faqbot run` failing to start says what is wrong in one line, with the fix, and exits; Ctrl+C
at any moment ends it quietly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.runtime.journal import UpdateJournal
from tests.fakes.databases import copy_database
from tests.fakes.model_loads.stand_in_model import LOAD_SECONDS_ENV
from tests.fakes.operator_shell import operator_environment, start_faqbot
from tests.fakes.telegram import TelegramStub
from tests.fakes.waiting import wait_until

START_TIMEOUT = 120.0


def _environment(
    tmp_path: Path, stub: TelegramStub, stand_in_model: bool = False, **extra: str
) -> dict[str, str]:
    """`stand_in_model`: for a test of start-up and stopping, not of answers."""
    return {
        **operator_environment(tmp_path, stand_in_model),
        "BOT_TOKEN": stub.token,
        "TELEGRAM_API_URL": stub.base_url,
        **extra,
    }


async def _run(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    process = await start_faqbot(env, cwd, "run")
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    lines = [line for line in (stdout + stderr).decode().splitlines() if line.strip()]
    assert process.returncode is not None
    return process.returncode, lines


async def test_a_malformed_token_is_named_as_such_in_one_line(tmp_path: Path) -> None:
    env = {**operator_environment(tmp_path), "BOT_TOKEN": "not a token at all"}
    code, lines = await _run(env, tmp_path)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("BOT_TOKEN is malformed"), lines
    assert "not a token at all" not in lines[0]


async def test_a_token_with_a_trailing_space_works_and_an_unwritable_journal_is_one_line(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the journal's folder should be")
    async with TelegramStub() as stub:
        env = _environment(tmp_path, stub, UPDATE_JOURNAL=str(blocker / "journal.sqlite3"))
        env["BOT_TOKEN"] = f" {stub.token} \n"
        code, lines = await _run(env, tmp_path)
        assert [c.error for c in stub.calls_of("getMe")] == [None], "the token was accepted"
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("Cannot write the update journal"), lines
    assert "a-file" in lines[0]


async def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the database's folder should be")
    async with TelegramStub() as stub:
        env = _environment(
            tmp_path, stub, DATABASE_URL=f"sqlite+aiosqlite:///{blocker / 'kb.sqlite3'}"
        )
        code, lines = await _run(env, tmp_path)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("Cannot open the database"), lines
    assert "DATABASE_URL" in lines[0]


async def test_a_second_bot_on_the_same_journal_is_refused_before_it_loads_the_model(
    tmp_path: Path,
) -> None:
    async with TelegramStub() as stub:
        env = _environment(tmp_path, stub)
        # The first bot, as far as the journal can tell: it holds the journal's lock.
        first = UpdateJournal(tmp_path / "data" / "telegram-updates.sqlite3", 123456789)
        try:
            code, lines = await _run(env, tmp_path)
        finally:
            first.close()
    assert code == 2
    assert len(lines) == 1 and "in use by another running faqbot" in lines[0], lines
    assert not any("polling Telegram" in line for line in lines)


@pytest.mark.parametrize("moment", ["importing", "loading the model", "polling"])
async def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(
    tmp_path: Path, sample_base_file: Path, moment: str
) -> None:
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    async with TelegramStub() as stub:
        # A stand-in for the model, which takes seconds to load (as the real one does) where Ctrl+C
        # is to come while it loads.
        loading = {LOAD_SECONDS_ENV: "5"} if moment == "loading the model" else {}
        env = _environment(tmp_path, stub, True, **loading)
        process = await start_faqbot(env, tmp_path, "run")
        if moment == "importing":
            # In faqbot's own imports: pydantic is among the first, aiogram and numpy follow.
            # (Earlier, in the interpreter's own start-up, no program can catch Ctrl+C.)
            maps = Path(f"/proc/{process.pid}/maps")
            await wait_until(
                lambda: "pydantic_core" in maps.read_text(), 30, "the imports begun", every=0.002
            )
        elif moment == "loading the model":
            await stub.wait_for("getMe", timeout=START_TIMEOUT)
        else:
            await stub.wait_for("getUpdates", timeout=START_TIMEOUT)
        process.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    output = (stdout + stderr).decode()
    assert process.returncode == 130, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    if moment != "polling":
        assert "polling Telegram" not in output, "Ctrl+C came later than the moment named"


async def test_sigterm_while_the_model_loads_stops_cleanly_with_exit_0(
    tmp_path: Path, sample_base_file: Path
) -> None:
    # A service manager stopping the bot during its start-up: exit 0, no traceback, and the
    # model never served (the stand-in takes seconds to load, as the real one does).
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    async with TelegramStub() as stub:
        env = _environment(tmp_path, stub, True, **{LOAD_SECONDS_ENV: "5"})
        process = await start_faqbot(env, tmp_path, "run")
        await stub.wait_for("getMe", timeout=START_TIMEOUT)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    output = (stdout + stderr).decode()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "polling Telegram" not in output, output


async def test_a_damaged_journal_is_set_aside_before_the_model_loads_and_the_bot_starts(
    tmp_path: Path, sample_base_file: Path
) -> None:
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    journal = tmp_path / "data" / "telegram-updates.sqlite3"
    journal.parent.mkdir()
    journal.write_bytes(b"garbage\n" * 100)
    async with TelegramStub() as stub:
        process = await start_faqbot(_environment(tmp_path, stub, True), tmp_path, "run")
        await stub.wait_for("getUpdates", timeout=START_TIMEOUT)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    log = stderr.decode().splitlines()
    assert process.returncode == 0, log[-20:]
    errors = [line for line in log if " ERROR " in line]
    assert len(errors) == 1 and "moved aside" in errors[0], errors
    loaded = next(n for n, line in enumerate(log) if "model loaded" in line)
    assert log.index(errors[0]) < loaded, "the journal is checked before the model loads"
    assert (journal.parent / journal.name).exists(), "a new journal took its place"
    assert [p for p in journal.parent.glob("*.corrupt-*") if p.suffix != ".lock"]
