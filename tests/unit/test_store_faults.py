"""A write the database refuses for a while is retried, not dropped; and no error carries the
people's questions as SQL parameters."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.storage import faults
from knowledge_base.storage.faults import StoreUnavailable, fault_of, write_retrying
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.types import Band, QuestionLog, StoreFault

SECRET_QUESTION = "как уволить начальника тихо"


def _refusal(message: str) -> exc.OperationalError:
    return exc.OperationalError("INSERT …", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    ("message", "fault"),
    [
        ("database is locked", StoreFault.LOCKED),
        ("database or disk is full", StoreFault.FULL),
        ("attempt to write a readonly database", StoreFault.READ_ONLY),
        ("no such table: queries", None),
    ],
)
def test_refusals_that_pass_are_told_apart(message: str, fault: StoreFault | None) -> None:
    assert fault_of(_refusal(message)) is fault


async def test_a_write_refused_for_a_while_is_retried_until_it_lands(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(faults, "FIRST_PAUSE", 0.001)
    monkeypatch.setattr(faults, "EPISODES", faults.FaultEpisodes())
    attempts: list[int] = []

    async def write() -> str:
        attempts.append(1)
        if len(attempts) < 4:
            raise _refusal("database is locked")
        return "stored"

    with caplog.at_level(logging.INFO, logger=faults.__name__):
        assert await write_retrying(write, bound=5.0) == "stored"
    assert len(attempts) == 4
    # One episode: one line when it starts, one when it ends, not one per attempt.
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert "locked" in caplog.records[0].getMessage()


async def test_past_the_bound_the_write_fails_as_unavailable_not_as_a_database_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(faults, "FIRST_PAUSE", 0.001)

    async def write() -> None:
        raise _refusal("database or disk is full")

    with pytest.raises(StoreUnavailable) as raised:
        await write_retrying(write, bound=0.05)
    assert raised.value.fault is StoreFault.FULL
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_an_error_that_does_not_pass_is_not_retried() -> None:
    attempts: list[int] = []

    async def write() -> None:
        attempts.append(1)
        raise _refusal("no such table: queries")

    with pytest.raises(exc.OperationalError):
        await write_retrying(write, bound=5.0)
    assert attempts == [1]


async def test_database_errors_never_carry_a_question_or_a_user_id(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    question = QuestionLog(424242, SECRET_QUESTION, 999_999, 0.9, Band.ANSWER, "m")
    async with session_factory() as session:
        # The article does not exist: the foreign key refuses the row.
        with pytest.raises(exc.IntegrityError) as raised:
            await QueryRepository(session).log_many([question])
            await session.commit()
    assert SECRET_QUESTION not in str(raised.value)
    assert "424242" not in str(raised.value)
    assert "hidden" in str(raised.value)
