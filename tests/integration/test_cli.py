"""The `faqbot` command as an operator runs it: a real process, a real database, the real model."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_BASE, operator_environment


@pytest.fixture
def faqbot(tmp_path: Path, base_models: dict[str, Path]):  # type: ignore[no-untyped-def]
    """Runs `python -m bot ...` in a clean folder with its own database and no .env."""
    env = operator_environment(tmp_path)

    def run(*args: str, stdin: str = "", **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**env, **extra_env},
            timeout=300,
        )

    assert run("import", str(SAMPLE_BASE)).returncode == 0
    return run


def test_ask_json_answers_the_logs_question_with_the_logs_article(faqbot) -> None:  # type: ignore[no-untyped-def]
    result = faqbot("ask", "--json", "Как получить доступ к логам?")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"band", "title", "score", "alternatives"}
    assert answer["band"] == "answer"
    assert answer["title"] == "Инструкция по получению логов"
    assert 0.0 < answer["score"] <= 1.0
    assert all(set(a) == {"title", "score"} for a in answer["alternatives"])
    assert all(a["score"] <= answer["score"] for a in answer["alternatives"])


def test_ask_json_says_nothing_for_an_unrelated_question(faqbot) -> None:  # type: ignore[no-untyped-def]
    result = faqbot("ask", "--json", "рецепт борща со сметаной и пампушками")
    answer = json.loads(result.stdout)
    assert (answer["band"], answer["title"], answer["alternatives"]) == ("nothing", None, [])


def test_chat_answers_questions_typed_in_the_terminal(faqbot) -> None:  # type: ignore[no-untyped-def]
    result = faqbot("chat", stdin="Как получить доступ к логам?\nКак сменить пароль?\n")
    assert result.returncode == 0, result.stderr
    assert "Инструкция по получению логов" in result.stdout
    assert "Инструкция по смене пароля" in result.stdout
    assert "[answer, score 0." in result.stdout


def test_chat_opens_a_suggested_article_by_its_number(faqbot) -> None:  # type: ignore[no-untyped-def]
    result = faqbot(
        "chat",
        stdin="Как сменить пароль?\n1\n",
        SEARCH__ANSWER_THRESHOLD="1.0",
        SEARCH__SUGGEST_THRESHOLD="0.0",
    )
    assert result.returncode == 0, result.stderr
    suggestions, opened = result.stdout.split("[suggest, score", 1)
    assert "Возможно, вы имели в виду:" in suggestions
    assert "1. Инструкция по смене пароля" in suggestions
    assert opened.count("Инструкция по смене пароля") == 1
    assert "Сменить его можно заранее" in opened


def test_run_without_a_token_explains_how_to_get_one_and_fails(faqbot) -> None:  # type: ignore[no-untyped-def]
    result = faqbot("run", "--chat-fallback")
    assert result.returncode != 0
    assert "@BotFather" in result.stderr and "BOT_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_without_a_token_in_a_terminal_opens_the_chat(
    tmp_path: Path, base_models: dict[str, Path]
) -> None:
    """What `make run` does for a newcomer: the one-line hint, then the chat in the terminal."""
    env = operator_environment(tmp_path)
    imported = subprocess.run(
        [sys.executable, "-m", "bot", "import", str(SAMPLE_BASE)], cwd=tmp_path, env=env
    )
    assert imported.returncode == 0
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
        os.write(controller, "Как получить доступ к логам?\n".encode())
        os.write(controller, b"\n")  # an empty line ends the chat
        stdout, stderr = process.communicate(timeout=300)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode == 0, stderr.decode()
    assert "@BotFather" in stderr.decode().splitlines()[0]
    assert "Инструкция по получению логов" in stdout.decode()
    assert "[answer, score" in stdout.decode()
