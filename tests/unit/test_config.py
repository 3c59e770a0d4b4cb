"""Settings as an operator writes them: .env.example as shipped, and the values people type."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings
from tests.fakes.paths import REPO


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "BOT_TOKEN",
        "DATABASE_URL",
        "ADMIN_IDS",
        "MODEL__PATH",
        "MODEL__MODELS_DIR",
        "SEARCH__ANSWER_THRESHOLD",
        "SEARCH__SUGGEST_THRESHOLD",
        "SEARCH__SUGGESTIONS",
        "MAX_QUESTION_CHARS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_shipped_env_example_gives_the_defaults() -> None:
    settings = Settings(_env_file=REPO / ".env.example")  # type: ignore[call-arg]
    assert settings == Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.bot_token == ""
    assert settings.search.answer_threshold is None
    assert settings.model.resolved_path() == str(Path("models/base/multilingual-e5-small"))


def test_every_setting_is_documented_in_env_example() -> None:
    documented = {
        line.split("=", 1)[0].lower()
        for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    expected: set[str] = set()
    for name, field in Settings.model_fields.items():
        nested = getattr(field.annotation, "model_fields", None)
        if nested is None:
            expected.add(name)
        else:
            expected |= {f"{name}__{inner}" for inner in nested}
    assert "training__epochs" in expected
    assert documented == expected


def test_values_from_env_file_are_parsed(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "BOT_TOKEN=123:abc\nADMIN_IDS=1, 22 ,333\nSEARCH__ANSWER_THRESHOLD=0.9\n"
        "SEARCH__SUGGEST_THRESHOLD=0.8\nMODEL__PATH=models/base/all-MiniLM-L6-v2\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.bot_token == "123:abc"
    assert settings.admin_ids == frozenset({1, 22, 333})
    assert (settings.search.answer_threshold, settings.search.suggest_threshold) == (0.9, 0.8)
    assert settings.model.resolved_path() == "models/base/all-MiniLM-L6-v2"


def test_a_suggest_threshold_above_the_answer_threshold_is_refused(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "SEARCH__ANSWER_THRESHOLD=0.8\nSEARCH__SUGGEST_THRESHOLD=0.9\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match="SUGGEST_THRESHOLD"):
        Settings(_env_file=env)  # type: ignore[call-arg]


def test_every_setting_in_env_example_has_a_comment_above_it() -> None:
    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert number > 0 and lines[number - 1].startswith("# "), line


def test_timezone_is_moscow_unless_told_and_an_unknown_name_is_refused_plainly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TIMEZONE", raising=False)
    assert Settings(_env_file=None).timezone == "Europe/Moscow"  # type: ignore[call-arg]
    monkeypatch.setenv("TIMEZONE", "Asia/Yekaterinburg")
    assert str(Settings(_env_file=None).zone) == "Asia/Yekaterinburg"  # type: ignore[call-arg]
    monkeypatch.setenv("TIMEZONE", "Moscow")
    with pytest.raises(ValidationError, match="TIMEZONE='Moscow' is not an IANA time zone"):
        Settings(_env_file=None)  # type: ignore[call-arg]
