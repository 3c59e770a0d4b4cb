"""Fixtures shared by every test layer: the real base models and migrated databases."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from xdist.scheduler import LoadFileScheduling

# Before anything imports transformers: no test may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


from bot.app import build_resources
from bot.cli import evaluation as cli_evaluation
from bot.runtime import model_choice
from knowledge_base.encoders import loading
from knowledge_base.encoders.base import TextEncoder
from knowledge_base.encoders.base_models import MINILM, MULTILINGUAL_E5, bootstrap_base_models
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.encoders.torch_encoder import Encoder
from knowledge_base.io import read_articles
from knowledge_base.storage.engine import create_engine, create_session_factory, upgrade_database
from tests.fakes.databases import database_file, import_drafts
from tests.fakes.model_loads import sitecustomize as model_loads
from tests.fakes.paths import MODELS_DIR, SAMPLE_BASE
from tests.fakes.samples import SAMPLE_ARTICLE_COUNT
from tests.fakes.settings import make_settings

# Every model construction of the run, in this process and in those it starts, is counted
# (tests/fakes/model_loads) and the total printed at the end.
# One file for the whole run: pytest-xdist's workers inherit the name from the run that starts them.
if not os.environ.get(model_loads.ENV):
    os.environ[model_loads.ENV] = tempfile.mkstemp(prefix="faqbot-model-loads-")[1]
_MODEL_LOADS = Path(os.environ[model_loads.ENV])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(Path(model_loads.__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])]
)
model_loads.install()


def pytest_configure(config: pytest.Config) -> None:
    """Each session counts afresh. One process may run several (mutmut does: its workers
    inherit this module already imported), and the summary of the last removed the file."""
    if not hasattr(config, "workerinput"):  # a pytest-xdist worker adds to its run's count
        _MODEL_LOADS.write_text("")


# The test files that use the run's PyTorch models (e5_encoder, minilm_encoder, or a fixture
# that does) all run on one pytest-xdist worker, so each of those models is loaded once per run,
# not once per worker; every other file keeps its tests, and its module fixtures, on one worker
# (`make test` runs `-n 2`: the scheduler below takes over from `--dist`). Collection fails if a
# file uses one of those models and is missing here.
PYTORCH_MODELS = frozenset({"e5_encoder", "minilm_encoder"})
PYTORCH_MODEL_FILES = frozenset(
    {
        "tests/integration/test_e5_parity.py",
        "tests/integration/test_encoder.py",
        "tests/integration/test_evaluation.py",
        "tests/integration/test_onnx_parity.py",
        "tests/integration/test_seed_questions.py",
    }
)


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class _FilesAndPyTorchModels(LoadFileScheduling):
    def _split_scope(self, nodeid: str) -> str:
        file = _file(nodeid)
        return "pytorch-models" if file in PYTORCH_MODEL_FILES else file


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling:
    return _FilesAndPyTorchModels(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unlisted = {
        _file(item.nodeid)
        for item in items
        if PYTORCH_MODELS & set(getattr(item, "fixturenames", ()))
        and _file(item.nodeid) not in PYTORCH_MODEL_FILES
    }
    if unlisted:
        raise pytest.UsageError(
            f"{', '.join(sorted(unlisted))}: uses a PyTorch model of the run; add it to "
            "PYTORCH_MODEL_FILES in tests/conftest.py"
        )


# How SQLAlchemy shows a statement's parameters in an error: people's questions and ids.
SQL_PARAMETER_DUMP = "[parameters:"


class _ParameterDumps(logging.Handler):
    """Notes every log record, traceback included, that shows SQL parameters."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        if SQL_PARAMETER_DUMP in text:
            self.found.append(f"{record.name}: {text[:300]}")


@pytest.fixture(scope="session", autouse=True)
def no_sql_parameters_in_the_log() -> Iterator[None]:
    """Over the whole run, no log line shows a statement's parameters (questions, user ids)."""
    dumps = _ParameterDumps()
    logging.getLogger().addHandler(dumps)
    yield
    logging.getLogger().removeHandler(dumps)
    assert dumps.found == [], dumps.found


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


@pytest.fixture
def shared_models(monkeypatch: pytest.MonkeyPatch, e5_onnx_encoder: OnnxEncoder) -> None:
    """`faqbot` commands run in this process serve the run's loaded e5 where they would load
    the base e5 for ONNX Runtime (any other model, or PyTorch, is loaded as usual): what such a
    test checks is the command, and a load costs seconds."""
    real = loading.load_encoder
    e5 = e5_onnx_encoder.path.resolve()

    def load(
        model_path: str | Path, backend: str = "onnx", allow_hub: bool = False, threads: int = 0
    ) -> TextEncoder:
        if backend == "onnx" and Path(model_path).resolve() == e5:
            return e5_onnx_encoder
        return real(model_path, backend, allow_hub, threads)

    for module in (model_choice, cli_evaluation):
        monkeypatch.setattr(module, "load_encoder", load)


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


@pytest.fixture(scope="session")
async def sample_base_file(
    tmp_path_factory: pytest.TempPathFactory, e5_onnx_encoder: OnnxEncoder
) -> Path:
    """A migrated database with the 50 sample articles and their e5 vectors cached.

    Built once: encoding ~330 phrasings takes seconds; a test copies the file (copy_database)
    and so starts on a warm embedding cache, as a restarted production bot does.
    """
    folder = tmp_path_factory.mktemp("sample-base")
    settings = make_settings(folder, e5_onnx_encoder.path)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    drafts = read_articles(SAMPLE_BASE)
    assert len(drafts) == SAMPLE_ARTICLE_COUNT
    await import_drafts(settings, drafts)
    resources = await build_resources(settings, encoder=e5_onnx_encoder)
    await resources.close()
    return database_file(settings)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The model constructions of the whole run, child processes included."""
    if hasattr(terminalreporter.config, "workerinput"):
        return  # a pytest-xdist worker: the run that started it prints the total
    rows = [line.split(" ") for line in _MODEL_LOADS.read_text().splitlines()]
    _MODEL_LOADS.unlink(missing_ok=True)
    kinds = [row[1] for row in rows]
    processes = len({row[0] for row in rows})
    terminalreporter.write_line(
        f"model constructions: {len(kinds)} ({kinds.count('torch')} PyTorch, "
        f"{kinds.count('onnx')} ONNX Runtime) in {processes} processes"
    )
    by_test = Counter(row[2] if len(row) > 2 and row[2] else "(outside a test)" for row in rows)
    for test, count in by_test.most_common():
        terminalreporter.write_line(f"  {count:3d}  {test}")
