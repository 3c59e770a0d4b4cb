"""The `faqbot` command as an operator runs it: a real database, the real model; a process of its
own where the process is what is tested (no token, a terminal, a missing model), the commands
themselves in this process with the run's loaded model."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import cli
from knowledge_base.storage.engine import create_engine, create_session_factory
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import Band, QuestionLog
from tests.fakes.databases import copy_database
from tests.fakes.operator_shell import operator_environment

# Plumbing tests choose the band: what they check is the command, not where a score falls.
ANSWER_ALL = {"SEARCH__ANSWER_THRESHOLD": "0", "SEARCH__SUGGEST_THRESHOLD": "0"}
SUGGEST_ALL = {"SEARCH__ANSWER_THRESHOLD": "1.01", "SEARCH__SUGGEST_THRESHOLD": "0"}
ANSWER_NONE = {"SEARCH__ANSWER_THRESHOLD": "1.01", "SEARCH__SUGGEST_THRESHOLD": "1.01"}


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: str
    # What the command wrote to stderr, then its log lines.
    stderr: str


@pytest.fixture
def faqbot_command(  # type: ignore[no-untyped-def]
    tmp_path: Path,
    sample_base_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    shared_models: None,
):
    """Runs `faqbot ...` as an operator's shell would (a clean folder, no .env, that operator's
    environment, on a copy of the warm sample base), in this process: `cli.main` as the
    `faqbot` script calls it."""
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    operator = operator_environment(tmp_path)
    for key in set(os.environ) - set(operator):
        monkeypatch.delenv(key)
    for key, value in operator.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)

    def run(*args: str, stdin: str = "", **extra_env: str) -> _Run:
        capsys.readouterr()
        caplog.clear()
        with monkeypatch.context() as command:
            for key, value in extra_env.items():
                command.setenv(key, value)
            command.setattr(sys, "stdin", io.StringIO(stdin))
            code = cli.main(list(args))
        out, err = capsys.readouterr()
        return _Run(code, out, err + caplog.text)

    return run


def test_ask_json_answers_with_the_best_article(faqbot_command) -> None:  # type: ignore[no-untyped-def]
    result = faqbot_command("ask", "--json", "Как получить доступ к логам?", **ANSWER_ALL)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"band", "title", "score", "alternatives"}
    assert answer["band"] == "answer"
    assert answer["title"] == "Инструкция по получению логов"
    assert 0.0 < answer["score"] <= 1.0
    assert len(answer["alternatives"]) == 3
    assert all(set(a) == {"title", "score"} for a in answer["alternatives"])
    assert all(a["score"] <= answer["score"] for a in answer["alternatives"])
    assert "encoding" not in result.stderr, "the cached vectors serve at once"


def test_ask_json_says_nothing_below_the_bands(faqbot_command) -> None:  # type: ignore[no-untyped-def]
    result = faqbot_command("ask", "--json", "рецепт борща со сметаной и пампушками", **ANSWER_NONE)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["band"], answer["title"], answer["alternatives"]) == ("nothing", None, [])
    assert answer["score"] > 0


def test_chat_offers_suggestions_and_opens_one_by_its_number(faqbot_command) -> None:  # type: ignore[no-untyped-def]
    stdin = "7\nКак сменить пароль?\n9\n1\n"
    result = faqbot_command("chat", stdin=stdin, **SUGGEST_ALL)
    assert result.returncode == 0, result.stderr
    before, rest = result.stdout.split("Возможно, вы имели в виду:", 1)
    # A number before anything was offered is no question to search.
    assert "а сейчас предложений нет" in before
    suggestions, opened = rest.split("[suggest, score", 1)
    assert "1. Инструкция по смене пароля" in suggestions
    assert "Такого номера нет: выберите от 1 до 3" in opened
    assert opened.count("Инструкция по смене пароля") == 1
    assert "Сменить его можно заранее" in opened


def test_run_without_a_token_explains_how_to_get_one_and_fails(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--chat-fallback"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=operator_environment(tmp_path),
        timeout=300,
    )
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "BOT_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_without_a_token_in_a_terminal_opens_the_chat(
    tmp_path: Path, sample_base_file: Path
) -> None:
    """What `make run` does for a newcomer: the one-line hint, then the chat in the terminal,
    answering each question typed until an empty line. (A stand-in serves as the model: the
    answers of the real one to a `faqbot run` are tests/e2e/test_run_command.py's.)"""
    env = {**operator_environment(tmp_path, stand_in_model=True), **ANSWER_ALL}
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--chat-fallback"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=env,
        )
        # Phrasings of two articles: the stand-in model knows them as they are written.
        os.write(controller, "где посмотреть логи сервиса?\n".encode())
        os.write(controller, "поменять пароль от учетки\n".encode())
        os.write(controller, b"\n")  # an empty line ends the chat
        stdout, stderr = process.communicate(timeout=300)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode == 0, stderr.decode()
    assert "@BotFather" in stderr.decode().splitlines()[0]
    out = stdout.decode()
    assert out.index("Инструкция по получению логов") < out.index("Инструкция по смене пароля")
    assert out.count("[answer, score") == 2


def test_a_missing_model_is_exit_code_3_with_a_hint(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "пароль"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**operator_environment(tmp_path), "MODEL__PATH": str(tmp_path / "no-model")},
        timeout=300,
    )
    assert result.returncode == 3, result.stderr
    assert "no-model" in result.stderr and "Traceback" not in result.stderr


def test_ask_with_no_words_says_so_and_loads_no_model(faqbot_command) -> None:  # type: ignore[no-untyped-def]
    result = faqbot_command("ask", " \t\n ")
    assert result.returncode == 2
    assert "сообщение пустое" in result.stderr
    assert result.stdout == ""


def test_ask_says_when_it_reads_only_the_start_of_a_long_question(faqbot_command) -> None:  # type: ignore[no-untyped-def]
    result = faqbot_command("ask", "--json", "логи " * 20, MAX_QUESTION_CHARS="20", **ANSWER_ALL)
    assert result.returncode == 0, result.stderr
    assert "прочитал только первые 20 символов" in result.stderr
    assert json.loads(result.stdout)["band"] == "answer"


def test_ask_prints_a_long_article_whole(faqbot_command, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Longer than one Telegram message: the terminal has no such limit and cuts nothing.
    body = "\n\n".join(f"Абзац {n}:" + " подробности настройки" * 20 for n in range(20))
    title = "Очень подробная инструкция по настройке стенда"
    articles = tmp_path / "long.jsonl"
    articles.write_text(json.dumps({"title": title, "body": body}, ensure_ascii=False) + "\n")
    assert faqbot_command("import", str(articles)).returncode == 0
    result = faqbot_command("ask", title, **ANSWER_ALL)
    assert result.returncode == 0, result.stderr
    assert len(body) > 4096 and f"{title}\n\n{body}\n[answer, score" in result.stdout


def test_inbox_json_groups_the_unanswered_questions_by_meaning(  # type: ignore[no-untyped-def]
    faqbot_command, tmp_path: Path
) -> None:
    asked = [
        (1, "рецепт борща со сметаной"),
        (2, "Рецепт борща со сметаной?"),
        (3, "ремонт принтера на третьем этаже"),
    ]
    asyncio.run(_log_unanswered(tmp_path / "kb.sqlite3", asked))
    result = faqbot_command("inbox", "--json")
    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout)
    assert sorted(
        (group["size"], group["people"], sorted(q["text"] for q in group["questions"]))
        for group in groups
    ) == [
        (1, 1, ["ремонт принтера на третьем этаже"]),
        (2, 2, ["Рецепт борща со сметаной?", "рецепт борща со сметаной"]),
    ]
    assert {q["reason"] for group in groups for q in group["questions"]} == {"nothing"}


async def _log_unanswered(database: Path, asked: list[tuple[int, str]]) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with create_session_factory(engine)() as session:
            await QueryRepository(session).log_many(
                [QuestionLog(person, text, None, 0.3, Band.NOTHING, "m") for person, text in asked]
            )
            await session.commit()
    finally:
        await engine.dispose()
