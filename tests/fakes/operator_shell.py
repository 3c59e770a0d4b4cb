"""faqbot as an operator runs it from a shell: their environment, and the command as a process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.paths import MODELS_DIR


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
