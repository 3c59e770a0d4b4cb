"""Settings of faqbot, read once at start-up from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODELS_DIR = Path("models")
DEFAULT_BASE_MODEL = "multilingual-e5-small"


class ModelSettings(BaseModel):
    """Which sentence-transformers model answers, and where model versions live."""

    # A directory with a sentence-transformers model. Empty means the default base model,
    # built offline by `faqbot models bootstrap` under `<models_dir>/base/`.
    path: str = ""
    models_dir: Path = DEFAULT_MODELS_DIR
    # Let MODEL__PATH name a Hugging Face hub id; off, nothing ever reaches for a hub.
    allow_hub: bool = False

    def resolved_path(self) -> str:
        return self.path or str(self.models_dir / "base" / DEFAULT_BASE_MODEL)


class SearchSettings(BaseModel):
    """Confidence bands of the search."""

    # Empty means: what the model directory recommends in its faqbot.json (chosen from
    # `faqbot eval` score distributions when the model was built), else the fallbacks below.
    answer_threshold: float | None = None
    suggest_threshold: float | None = None
    suggestions: int = Field(default=3, ge=1, le=8)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> SearchSettings:
        answer, suggest = self.answer_threshold, self.suggest_threshold
        if answer is not None and suggest is not None and suggest > answer:
            raise ValueError("SEARCH__SUGGEST_THRESHOLD must not exceed SEARCH__ANSWER_THRESHOLD")
        return self


class Settings(BaseSettings):
    """Everything configurable; built once in the CLI and passed down."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        # `KEY=` in .env means "the default", as .env.example writes every optional setting.
        env_ignore_empty=True,
        extra="ignore",
    )

    bot_token: str = ""
    # A self-hosted Bot API server (telegram-bot-api); empty: Telegram's own.
    telegram_api_url: str = ""
    database_url: str = "sqlite+aiosqlite:///data/faqbot.sqlite3"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    model: ModelSettings = ModelSettings()
    search: SearchSettings = SearchSettings()
    # Longest question text the bot accepts; longer texts are cut, not rejected.
    max_question_chars: int = Field(default=1000, ge=10)
    # How often the running bot looks for articles changed by another process (seconds; 0: never).
    index_refresh_seconds: float = Field(default=30.0, ge=0)
    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            return frozenset(int(p) for p in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value
