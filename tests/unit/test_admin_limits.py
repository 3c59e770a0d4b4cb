"""The README's numbers for the admins' dialogs and inbox, on both sides of each: a dialog left
alone expires after a day (24 h still open, a second more dropped); /unanswered groups questions
whose embeddings are within cosine 0.9 of the group."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.handlers.admin import dialogs
from bot.states import AddArticle
from bot.texts import admin as admin_texts
from knowledge_base.inbox import group_questions
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.types import InboxReason, OpenQuestion
from tests.fakes.encoders import TableEncoder

ADMIN = 777
DAY = 24 * 3600


class _AdminChat:
    """Where `expired` tells the admin the dialog is gone."""

    def __init__(self) -> None:
        self.said: list[str] = []

    async def answer(self, text: str) -> None:
        self.said.append(text)


@pytest.mark.parametrize(("left_for", "dropped"), [(DAY, False), (DAY + 1, True)])
async def test_a_dialog_left_for_more_than_a_day_is_dropped_at_its_next_step(
    monkeypatch: pytest.MonkeyPatch, left_for: int, dropped: bool
) -> None:
    state = FSMContext(MemoryStorage(), StorageKey(bot_id=1, chat_id=ADMIN, user_id=ADMIN))
    began = 1_800_000_000.0
    monkeypatch.setattr(dialogs.time, "time", lambda: began)
    await dialogs.begin_dialog(state, AddArticle.title)
    monkeypatch.setattr(dialogs.time, "time", lambda: began + left_for)
    chat = _AdminChat()
    assert await dialogs.expired(chat, state) is dropped  # type: ignore[arg-type]
    assert chat.said == ([admin_texts.DIALOG_EXPIRED] if dropped else [])
    assert (await state.get_state() is None) is dropped


def _at(cosine: float) -> list[float]:
    return [cosine, math.sqrt(1.0 - cosine * cosine)]


@pytest.mark.parametrize(("cosine", "groups"), [(0.9001, 1), (0.8999, 2)])
async def test_questions_within_cosine_0_9_of_a_group_join_it(cosine: float, groups: int) -> None:
    encoder = TableEncoder("fixed", {"где логи": [1.0, 0.0], "логи где лежат": _at(cosine)})
    engine = SearchEngine(encoder, Thresholds(0.9, 0.87))  # type: ignore[arg-type]
    asked = datetime(2026, 12, 1, tzinfo=UTC)
    questions = [
        OpenQuestion(1, 101, "где логи", asked, InboxReason.NOTHING),
        OpenQuestion(2, 102, "логи где лежат", asked, InboxReason.NOTHING),
    ]
    found = await group_questions(engine, questions)
    assert [g.size for g in found] == ([2] if groups == 1 else [1, 1])
