"""Settings for a test, built as production builds them but from nothing but the test's values."""

from __future__ import annotations

from pathlib import Path

from bot.config import ModelSettings, SearchSettings, Settings
from tests.fakes.paths import MODELS_DIR


def make_settings(tmp_path: Path, model_dir: Path | str = "", **overrides: object) -> Settings:
    """Settings for a test: its own SQLite file, no .env, nothing from the environment."""
    values: dict[str, object] = {
        "bot_token": "",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'faqbot.sqlite3'}",
        "update_journal": tmp_path / "telegram-updates.sqlite3",
        "admin_ids": frozenset(),
        "model": ModelSettings(path=str(model_dir), models_dir=MODELS_DIR),
        "search": SearchSettings(),
        # One notice per event, as tests written before the digest expect; a digest test
        # sets its period.
        "admin_digest_minutes": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]
