"""The README's default period of `faqbot stats`: the last 14 days, today included, day by day.
In-process, on a model of fixed vectors (the command's numbers need no real model)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import cli
from bot.app import build_resources
from bot.cli import inbox as inbox_command
from tests.fakes.databases import answered_days_ago
from tests.fakes.encoders import TableEncoder


async def test_stats_cover_the_last_14_days_by_default(
    tmp_path: Path,
    migrated_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in list(os.environ):
        if key.startswith(("DATABASE_", "MODEL__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.chdir(tmp_path)
    encoder = TableEncoder("fixed-vectors", {"VPN": [1.0, 0.0]})
    with_fixed_vectors = partial(build_resources, encoder=encoder)  # type: ignore[arg-type]
    monkeypatch.setattr(inbox_command, "build_resources", with_fixed_vectors)
    now = await answered_days_ago(session_factory, (13, 14))
    assert await asyncio.to_thread(cli.main, ["stats"]) == 0
    out = capsys.readouterr().out
    # The question of 13 days ago is in, the one of 14 days ago is not; a line for each day.
    assert out.startswith("Last 14 days: 1 questions.\n"), out
    days = [line for line in out.splitlines() if line[:4].isdigit()]
    assert len(days) == 14
    assert days[0].startswith((now - timedelta(days=13)).date().isoformat())
