"""Fixtures shared by every test layer: the real base models, settings and migrated databases."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Before anything imports transformers: no test may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

from bot.app import build_resources
from bot.config import ModelSettings, SearchSettings, Settings
from knowledge_base.articles import ArticleService
from knowledge_base.encoders.base_models import MINILM, MULTILINGUAL_E5, bootstrap_base_models
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.encoders.torch_encoder import Encoder
from knowledge_base.io import read_articles
from knowledge_base.storage.engine import create_engine, create_session_factory, upgrade_database
from knowledge_base.types import ArticleDraft

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"
SAMPLE_BASE = REPO / "knowledge_base" / "samples" / "helpdesk.jsonl"
SAMPLE_EVAL = REPO / "knowledge_base" / "samples" / "helpdesk_eval.jsonl"
SAMPLE_ARTICLE_COUNT = 50
# Hard cases for the e5 encoders: punctuation, digits, ё, emoji, tabs, trailing spaces.
PARITY_FILE = REPO / "tests" / "data" / "e5_parity" / "sentences.json"


def parity_sentences() -> list[str]:
    return list(json.loads(PARITY_FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def base_models() -> dict[str, Path]:
    """The offline base models under models/base/ (built once if missing, as `make` does)."""
    return {path.name: path for path, _ in bootstrap_base_models(MODELS_DIR)}


@pytest.fixture(scope="session")
def e5_encoder(base_models: dict[str, Path]) -> Encoder:
    return Encoder(base_models[MULTILINGUAL_E5])


@pytest.fixture(scope="session")
def e5_onnx_encoder(base_models: dict[str, Path]) -> OnnxEncoder:
    """The default model as the bot serves it: ONNX Runtime (MODEL__BACKEND=onnx)."""
    return OnnxEncoder(base_models[MULTILINGUAL_E5])


@pytest.fixture(scope="session")
def minilm_encoder(base_models: dict[str, Path]) -> Encoder:
    return Encoder(base_models[MINILM])


def make_settings(tmp_path: Path, model_dir: Path | str = "", **overrides: object) -> Settings:
    """Settings for a test: its own SQLite file, no .env, nothing from the environment."""
    values: dict[str, object] = {
        "bot_token": "",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'faqbot.sqlite3'}",
        "update_journal": tmp_path / "telegram-updates.sqlite3",
        "admin_ids": frozenset(),
        "model": ModelSettings(path=str(model_dir), models_dir=MODELS_DIR),
        "search": SearchSettings(),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


@pytest.fixture
async def migrated_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'faqbot.sqlite3'}"
    await asyncio.to_thread(upgrade_database, url)
    return url


@pytest.fixture
async def session_factory(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_url)
    yield create_session_factory(engine)
    await engine.dispose()


def operator_environment(tmp_path: Path) -> dict[str, str]:
    """The environment of an operator with no .env: a database of its own, no token."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("BOT_", "DATABASE_", "MODEL_", "SEARCH_", "ADMIN_", "TELEGRAM_", "UPDATE_")
        )
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'kb.sqlite3'}",
        MODEL__MODELS_DIR=str(MODELS_DIR),
        HF_HUB_OFFLINE="1",
        BOT_TOKEN="",
    )
    return env


async def start_faqbot(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    """`faqbot ARGS` as its own process (python -m bot), with stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def copy_database(source: Path, target: Path) -> None:
    # The backup API reads through the WAL, so the copy is whole even if a -wal file lingers.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def database_file(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))


async def import_drafts(settings: Settings, drafts: Sequence[ArticleDraft]) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            await ArticleService(session).import_drafts(drafts)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def sample_base_file(tmp_path_factory: pytest.TempPathFactory, e5_encoder: Encoder) -> Path:
    """A migrated database with the 50 sample articles and their e5 vectors cached.

    Built once: encoding ~330 phrasings takes seconds; a test copies the file (copy_database)
    and so starts on a warm embedding cache, as a restarted production bot does.
    """
    folder = tmp_path_factory.mktemp("sample-base")
    settings = make_settings(folder, e5_encoder.path)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    drafts = read_articles(SAMPLE_BASE)
    assert len(drafts) == SAMPLE_ARTICLE_COUNT
    await import_drafts(settings, drafts)
    resources = await build_resources(settings, encoder=e5_encoder)
    await resources.close()
    return database_file(settings)
