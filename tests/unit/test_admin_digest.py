"""The admins' digest: what it says, when it comes, and that it neither repeats nor loses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.digest import AdminDigest
from bot.texts import admin as admin_texts
from knowledge_base.digest import DigestService
from knowledge_base.search.engine import SearchEngine
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.storage.tables import ArticleRow, FeedbackRow, QueryRow
from knowledge_base.types import Band, Label
from tests.fakes.clock import FakeClock
from tests.fakes.encoders import FakeEncoder
from tests.fakes.settings import make_settings

FIRST, SECOND = 501, 502
PERSON = 42
HOUR = 3600.0


class RecordingBot:
    """Stands in for aiogram's Bot where only send_message is used."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []

    async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> None:
        self.sent.append((chat_id, text, reply_markup))

    def to(self, chat_id: int) -> list[str]:
        return [text for chat, text, _ in self.sent if chat == chat_id]


Sessions = async_sessionmaker[AsyncSession]


async def _ask(sessions: Sessions, text: str, band: Band = Band.NOTHING) -> int:
    async with sessions() as session:
        row = QueryRow(user_id=PERSON, text=text, score=0.1, band=band.value, model_version="x")
        session.add(row)
        await session.commit()
        return row.id


async def _thumbs_down(sessions: Sessions, text: str, *, none_fit: bool = False) -> None:
    """A 👎 under an article the bot answered with, or «Нет подходящего» (no article)."""
    query_id = await _ask(sessions, text, Band.ANSWER)
    async with sessions() as session:
        article_id = None
        if not none_fit:
            article = ArticleRow(title=f"Статья про {text}", body="Текст.")
            session.add(article)
            await session.flush()
            article_id = article.id
        session.add(
            FeedbackRow(
                query_id=query_id, article_id=article_id, label=Label.NOT_HELPFUL, user_id=PERSON
            )
        )
        await session.commit()


def _digest(tmp_path: Path, sessions: Sessions, clock: FakeClock, minutes: int = 60) -> AdminDigest:
    settings = make_settings(
        tmp_path, admin_ids=frozenset({FIRST, SECOND}), admin_digest_minutes=minutes
    )
    engine = SearchEngine(FakeEncoder({"-": [1.0, 0.0]}), Thresholds(0.9, 0.5))  # type: ignore[arg-type]
    return AdminDigest(settings, sessions, engine, sleep=clock.sleep)


async def _round(clock: FakeClock, seconds: float) -> None:
    """Let `seconds` pass and wait until the digest loop sleeps again (its round is done)."""
    clock.advance(seconds)
    await clock.until_sleeping()


async def test_a_digest_comes_once_the_period_passes_with_the_counts_and_top_groups(
    tmp_path: Path, session_factory: Sessions
) -> None:
    clock, bot = FakeClock(), RecordingBot()
    digest = _digest(tmp_path, session_factory, clock)
    await digest.start(bot)  # type: ignore[arg-type]
    try:
        await clock.until_sleeping()
        assert clock.sleepers == [HOUR]
        await _ask(session_factory, "где пропуск?")
        await _ask(session_factory, "где взять пропуск?")
        await _thumbs_down(session_factory, "как сбросить пароль?")
        await _thumbs_down(session_factory, "где парковка?", none_fit=True)
        await _thumbs_down(session_factory, "где душ?", none_fit=True)
        clock.advance(HOUR - 1)
        assert bot.sent == []
        await _round(clock, 1)
        # Every open question reads the same to the fake encoder: one group of five, all new.
        expected = admin_texts.digest(60, 2, 1, [(5, "где пропуск?", 5)], none_fit=2)
        assert bot.to(FIRST) == bot.to(SECOND) == [expected]
        assert "Сводка за час" in expected
        assert "❓ Бот не знал ответа: 2 вопроса" in expected
        # 👎 as /stats counts them; «Нет подходящего» under its own label.
        assert "👎 Не помогло: 1 отзыв\n" in expected
        assert "🤷 «Нет подходящего»: 2 раза" in expected
        # The same count as /unanswered's.
        assert "В /unanswered ждут ответа: 5 вопросов." in expected
        markup = bot.sent[0][2]
        assert markup.inline_keyboard[0][0].text == admin_texts.BUTTON_OPEN_INBOX
    finally:
        await digest.stop()


async def test_a_quiet_period_sends_nothing_and_nothing_is_told_twice(
    tmp_path: Path, session_factory: Sessions
) -> None:
    clock, bot = FakeClock(), RecordingBot()
    digest = _digest(tmp_path, session_factory, clock)
    await digest.start(bot)  # type: ignore[arg-type]
    try:
        await clock.until_sleeping()
        await _round(clock, HOUR)
        assert bot.sent == []
        await _ask(session_factory, "где пропуск?")
        await _round(clock, HOUR)
        assert len(bot.to(FIRST)) == 1
        await _round(clock, HOUR)
        assert len(bot.to(FIRST)) == 1
        await _ask(session_factory, "где столовая?")
        await _round(clock, HOUR)
        assert "Бот не знал ответа: 1 вопрос\n" in bot.to(FIRST)[-1]
        assert len(bot.to(FIRST)) == 2
    finally:
        await digest.stop()


async def test_what_happened_before_a_restart_comes_in_the_next_digest(
    tmp_path: Path, session_factory: Sessions
) -> None:
    clock, bot = FakeClock(), RecordingBot()
    before = _digest(tmp_path, session_factory, clock)
    await before.start(bot)  # type: ignore[arg-type]
    await clock.until_sleeping()
    await _ask(session_factory, "где пропуск?")
    await before.stop()  # the process dies before its period ends
    after = _digest(tmp_path, session_factory, clock)
    await after.start(bot)  # type: ignore[arg-type]
    try:
        await clock.until_sleeping()
        await _round(clock, HOUR)
        assert len(bot.to(FIRST)) == 1
        assert "Бот не знал ответа: 1 вопрос" in bot.to(FIRST)[0]
    finally:
        await after.stop()


async def test_two_processes_send_each_digest_once(
    tmp_path: Path, session_factory: Sessions
) -> None:
    clock, bot = FakeClock(), RecordingBot()
    one, other = (
        _digest(tmp_path, session_factory, clock),
        _digest(tmp_path, session_factory, clock),
    )
    async with session_factory() as session:
        await DigestService(session).track(frozenset({FIRST, SECOND}))
    await _ask(session_factory, "где пропуск?")
    sent = await one.send_due(bot) + await other.send_due(bot)  # type: ignore[arg-type]
    assert sent == 2
    assert len(bot.to(FIRST)) == len(bot.to(SECOND)) == 1


async def test_a_muted_admin_gets_no_digest_and_unmuted_starts_from_then(
    tmp_path: Path, session_factory: Sessions
) -> None:
    clock, bot = FakeClock(), RecordingBot()
    digest = _digest(tmp_path, session_factory, clock)
    async with session_factory() as session:
        await DigestService(session).track(frozenset({FIRST, SECOND}))
    async with session_factory() as session:
        await DigestService(session).set_muted(FIRST, True)
    await _ask(session_factory, "где пропуск?")
    await digest.send_due(bot)  # type: ignore[arg-type]
    assert bot.to(FIRST) == []
    assert len(bot.to(SECOND)) == 1
    async with session_factory() as session:
        await DigestService(session).set_muted(FIRST, False)
    await digest.send_due(bot)  # type: ignore[arg-type]
    assert bot.to(FIRST) == []  # what happened while muted is not a backlog
    await _ask(session_factory, "где столовая?")
    await digest.send_due(bot)  # type: ignore[arg-type]
    assert len(bot.to(FIRST)) == 1


@pytest.mark.parametrize(
    ("minutes", "period"), [(60, "час"), (120, "2 часа"), (30, "30 минут"), (1, "1 минуту")]
)
def test_the_digest_names_its_period(minutes: int, period: str) -> None:
    assert admin_texts.digest(minutes, 1, 0, []).startswith(f"📋 <b>Сводка за {period}</b>")


def test_the_digest_escapes_questions_and_leaves_out_what_did_not_happen() -> None:
    text = admin_texts.digest(60, 0, 5, [(2, "<b>пропуск</b> & ключи", 0)])
    assert "не знал ответа" not in text
    assert "Нет подходящего" not in text
    assert "Не помогло: 5 отзывов" in text
    assert "&lt;b&gt;пропуск&lt;/b&gt; &amp; ключи — 2 вопроса" in text


def test_the_digest_names_the_new_questions_of_its_period() -> None:
    text = admin_texts.digest(
        60, 1, 0, [(2, "где пропуск?", 1), (1, "как заказать такси", 1), (1, "где душ?", 0)]
    )
    assert text.splitlines()[-3:] == [
        "• где пропуск? — 2 вопроса, из них новых: 1",
        "• как заказать такси — 1 вопрос, новый",
        "• где душ? — 1 вопрос",
    ]
