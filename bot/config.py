"""Settings of faqbot, read once at start-up from the environment and `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from knowledge_base.search.vector_index import LEARNED_TOP_K
from knowledge_base.storage.faults import DEFAULT_RETRY_SECONDS

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
    # What runs the model when answering: "onnx" (ONNX Runtime, an export kept next to the
    # weights, built on first use) or "torch" (PyTorch). Training always uses PyTorch.
    backend: Literal["onnx", "torch"] = "onnx"
    # ONNX Runtime threads per question batch; 0: one per core. 1 leaves a core to the rest of
    # the bot: higher throughput under load, a slower single answer (README, "Speed").
    threads: int = Field(default=0, ge=0)

    def resolved_path(self) -> str:
        return self.path or str(self.models_dir / "base" / DEFAULT_BASE_MODEL)


class SearchSettings(BaseModel):
    """Confidence bands of the search."""

    # Empty means: what the model directory recommends in its faqbot.json (chosen from
    # `faqbot eval` score distributions when the model was built), else the fallbacks below.
    answer_threshold: float | None = None
    suggest_threshold: float | None = None
    suggestions: int = Field(default=3, ge=1, le=8)
    # An article's learned phrasings (confirmed questions) count by the mean of their this
    # many best matches, so an article with many of them does not win by chance; 1: by the
    # best one alone, as curated phrasings do.
    learned_top_k: int = Field(default=LEARNED_TOP_K, ge=1, le=100)
    # Weight of the lexical channel (character 3-gram TF-IDF over the same phrasings) in the
    # ranking, against the embeddings' 1 - weight; 0 turns it off. Empty: what the model
    # directory recommends in its faqbot.json (measured for the base models, chosen on
    # held-out questions by `faqbot train`), else 0. The bands judge the embeddings' cosine.
    lexical_weight: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> SearchSettings:
        answer, suggest = self.answer_threshold, self.suggest_threshold
        if answer is not None and suggest is not None and suggest > answer:
            raise ValueError("SEARCH__SUGGEST_THRESHOLD must not exceed SEARCH__ANSWER_THRESHOLD")
        return self


class DatabaseSettings(BaseModel):
    """How the bot rides out a database that refuses writes for a while."""

    # A question's log row or a click the database refuses (locked by another writer, disk
    # full, read-only) is retried for this long; past it the update stays unfinished in the
    # journal and is handled again later, like a Telegram failure.
    write_retry_seconds: float = Field(default=DEFAULT_RETRY_SECONDS, ge=0)


class LearningSettings(BaseModel):
    """How confirmed questions become learned phrasings between retrainings."""

    # Distinct people who must confirm the same question for the same article (a 👍 or a
    # picked suggestion) before it is learned.
    min_confirmations: int = Field(default=1, ge=1)
    # Off: a confirmed question waits for an admin's approval (/learned) before it is served.
    auto: bool = True


class TrainingSettings(BaseModel):
    """`faqbot train`: the seed's recipe by default, and when a new model may serve."""

    epochs: float = Field(default=2.0, gt=0)
    batch_size: int = Field(default=8, ge=2)
    learning_rate: float = Field(default=5e-5, gt=0)
    seed: int = 42
    # Share of the steps over which the learning rate warms up from zero.
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    # Keep the word-embedding table fixed: most of the weights, most of the time of a step.
    freeze_embeddings: bool = True
    # Share of the questions people asked that is held out to compare old and new.
    held_out_share: float = Field(default=0.2, gt=0, lt=1)
    # Fewer training pairs than this: training is refused.
    min_pairs: int = Field(default=20, ge=1)
    # The new model may be this much worse (top-1 and MRR@10) and still be promoted.
    promotion_margin: float = Field(default=0.0, ge=0)
    # Share of direct answers that must be right on the held-out questions (answer threshold).
    precision_target: float = Field(default=0.9, gt=0, le=1)
    # Trained versions kept on disk after a promotion (the active one, the one before it and
    # the newest others); the base models are always kept. 0: prune nothing.
    keep_versions: int = Field(default=3, ge=0)
    # torch threads for training; 0: all cores but one, so a bot beside it keeps answering.
    threads: int = Field(default=0, ge=0)
    # Added to the training process's niceness (19: lowest priority), so the bot comes first.
    niceness: int = Field(default=19, ge=0, le=19)


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
    # Where `faqbot run` writes each Telegram update before confirming it to Telegram.
    update_journal: Path = Path("data/telegram-updates.sqlite3")
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    model: ModelSettings = ModelSettings()
    search: SearchSettings = SearchSettings()
    training: TrainingSettings = TrainingSettings()
    learning: LearningSettings = LearningSettings()
    db: DatabaseSettings = DatabaseSettings()
    # Longest question text the bot accepts; longer texts are cut, not rejected.
    max_question_chars: int = Field(default=1000, ge=10)
    # How often the running bot looks for what another process changed: articles (`faqbot
    # import`) and the active model (`faqbot train`, `models activate|rollback`); 0: never.
    index_refresh_seconds: float = Field(default=30.0, ge=0)
    # /add warns «Похоже на: …» when a new title or phrasing scores this close to an article.
    admin_similar_threshold: float = Field(default=0.93, ge=0, le=1)
    # After an admin attaches /unanswered questions to an article, the people who asked are
    # told only this many minutes later: until then «Отменить» takes it back; 0: at once.
    inbox_undo_minutes: float = Field(default=5, ge=0, le=1440)
    # Largest article file (MB) an admin may send to the bot for import.
    admin_max_file_mb: int = Field(default=5, ge=1, le=20)
    # Admins hear of unanswered questions and 👎 in one digest every this many minutes, and
    # only if something happened; 0: one message per event, at once.
    admin_digest_minutes: int = Field(default=60, ge=0, le=10_080)
    # Updates handled at once; more wait in the journal (Telegram hands over 100 at a time).
    max_concurrent_updates: int = Field(default=100, ge=1)
    # Messages on their way to Telegram at once: a kill -9 can send again only these (README,
    # "What a crash … costs"). One carries 10-20 a second at Telegram's 50-100 ms a call.
    max_sends_in_flight: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    # The IANA time zone every time shown to admins is in (/audit, /model).
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"TIMEZONE={value!r} is not an IANA time zone name (e.g. Europe/Moscow, "
                "Asia/Yekaterinburg, UTC)"
            ) from error
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("bot_token")
    @classmethod
    def _token_without_surrounding_spaces(cls, value: str) -> str:
        # A token pasted with a trailing space or newline is still the token.
        return value.strip()

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url_is_an_http_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as error:
            raise ValueError(f"not a URL ({error})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            return frozenset(int(p) for p in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a `faqbot` process the bot starts (/retrain's `faqbot train`): this
    process's own, without the bot token, with `settings` over whatever .env says. Besides
    Settings itself, the one reader of os.environ."""
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    env.update(
        DATABASE_URL=settings.database_url,
        MODEL__PATH=settings.model.path,
        MODEL__MODELS_DIR=str(settings.model.models_dir),
        MODEL__ALLOW_HUB=str(settings.model.allow_hub).lower(),
        LOG_LEVEL=settings.log_level,
    )
    for name, value in settings.training.model_dump().items():
        env[f"TRAINING__{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env
