"""faqbot as an operator runs it from a shell: their environment, and the command as a process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.model_loads.sitecustomize import STAND_IN_ENV
from tests.fakes.paths import MODELS_DIR


def operator_environment(tmp_path: Path, stand_in_model: bool = False) -> dict[str, str]:
    """The environment of an operator with no .env: a database of its own, no token.

    With `stand_in_model`, a process started with it serves a stand-in for the model (see
    tests/fakes/model_loads/stand_in_model.py): for tests of what surrounds the model that start
    `faqbot run` again and again.
    """
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
    if stand_in_model:
        env[STAND_IN_ENV] = "1"
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
