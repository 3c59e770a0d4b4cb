"""The real bot polling the local Telegram stand-in, on a fresh copy of the sample base per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_resources, create_bot, create_dispatcher
from bot.config import SearchSettings, Settings
from bot.runtime.polling import DurablePolling
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.storage.tables import ArticleRow, FeedbackRow, QueryRow
from knowledge_base.types import ArticleDraft
from tests.conftest import (
    copy_database,
    database_file,
    import_drafts,
    make_settings,
)
from tests.fakes.telegram import FAULT_PREFIX, REPLY_METHODS, Call, TelegramStub

USER_ID = 42
OTHER_USER_ID = 43

# Thresholds that put every question in one band, whatever its score (scores are cosines ≤ 1).
FORCE_ANSWER = SearchSettings(answer_threshold=0.0, suggest_threshold=0.0)
FORCE_SUGGEST = SearchSettings(answer_threshold=1.01, suggest_threshold=0.0)
FORCE_NOTHING = SearchSettings(answer_threshold=1.01, suggest_threshold=1.01)
# What the model directory recommends (models/base/<model>/faqbot.json), as in production.
DEFAULT_BANDS = SearchSettings()

# No single step of a test should take this long; a hang fails with a description instead.
STEP_TIMEOUT = 15.0


class UpdateTracker(BaseMiddleware):
    """Notes when the dispatcher has finished each update — handler, error handler, DB commit
    and all — and which handlers failed.

    Updates are handled concurrently, so a reply on the wire does not mean the handler's
    transaction is committed yet; tests wait for this before they read the database.
    """

    def __init__(self) -> None:
        self.processed: set[int] = set()
        self.failures: list[tuple[int, BaseException]] = []
        self._changed = asyncio.Event()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        try:
            return await handler(event, data)
        except Exception as error:
            # The bot's own error handler will answer the person; the test must still fail.
            self.failures.append((event.update_id, error))
            raise

    def around(self, feed_update: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Wraps the dispatcher's entry point: an update counts as processed once everything,
        the error handler included, is done with it."""

        async def tracked(bot: Any, update: Update, **kwargs: Any) -> Any:
            try:
                return await feed_update(bot, update, **kwargs)
            finally:
                self.processed.add(update.update_id)
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()

        return tracked

    async def wait_for(self, update_ids: set[int], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not update_ids <= self.processed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                missing = sorted(update_ids - self.processed)
                raise AssertionError(f"updates {missing} not processed within {timeout:g} s")
            changed = self._changed
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)


@dataclass(frozen=True)
class Press:
    """What a button press produced: the callback answer and any messages sent or edited."""

    answer: Call
    replies: list[Call]

    @property
    def alert(self) -> str | None:
        """The text of a modal alert (show_alert), None for a toast or a silent answer."""
        params = self.answer.params
        return str(params.get("text")) if params.get("show_alert") else None


@dataclass
class BotHarness:
    """The running bot as a person in Telegram sees it, plus its database to check."""

    stub: TelegramStub
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    tracker: UpdateTracker
    model_version: str
    user_id: int = USER_ID
    # Errors a test provokes on purpose (like Telegram's "message is not modified"); any
    # other rejected call fails the test at teardown.
    expected_errors: list[str] = field(default_factory=list)
    # Handler failures a test provokes on purpose (to reach the bot's error handler); any
    # other failure fails the test.
    expected_failures: tuple[type[BaseException], ...] = ()

    def unexpected_failures(self) -> list[tuple[int, BaseException]]:
        return [
            (update_id, error)
            for update_id, error in self.tracker.failures
            if not isinstance(error, self.expected_failures)
        ]

    # --- talking to the bot ------------------------------------------------------------------

    async def send(self, push: Callable[[int], Any], user_id: int | None = None) -> list[Call]:
        """Push one update built by a stub method (push_sticker, …); the replies it caused."""
        user = self.user_id if user_id is None else user_id
        mark = self.stub.mark()
        push(user)
        await self.settle()
        return self.replies(after=mark, user_id=user)

    async def say(self, text: str, user_id: int | None = None) -> list[Call]:
        """Send a text message; every reply the bot made to it."""
        return await self.send(lambda user: self.stub.push_text(user, text), user_id)

    async def ask(self, text: str, user_id: int | None = None) -> Call:
        """Send a text message that must get exactly one reply, and return that reply."""
        replies = await self.say(text, user_id)
        assert len(replies) == 1, [call.params.get("text") for call in replies]
        return replies[0]

    async def press(self, reply: Call, data: str, user_id: int | None = None) -> Press:
        """Press a button with `data` under the message the bot sent in `reply`."""
        user = self.user_id if user_id is None else user_id
        mark = self.stub.mark()
        callback_id = self.stub.push_callback(user, reply.result["message_id"], data)
        await self.settle()
        answer = await self.stub.wait_for(
            "answerCallbackQuery",
            lambda call: call.params.get("callback_query_id") == callback_id,
            timeout=STEP_TIMEOUT,
            after=mark,
        )
        assert answer.error is None, answer.error
        return Press(answer, self.replies(after=mark, user_id=user))

    async def settle(self, timeout: float = STEP_TIMEOUT) -> None:
        """Wait until the bot has finished every update pushed so far; fail if one crashed."""
        await self.tracker.wait_for(set(self.stub.pushed_at), timeout)
        failures = self.unexpected_failures()
        assert not failures, f"handlers failed: {failures}"

    def replies(self, after: int = 0, user_id: int | None = None) -> list[Call]:
        """Successful sendMessage/editMessageText/sendDocument calls to the user's chat."""
        chat = self.user_id if user_id is None else user_id
        return [
            call
            for call in self.stub.calls[after:]
            if call.method in REPLY_METHODS
            # A call whose answer was lost on the way back still reached the chat.
            and (call.error is None or call.result is not None)
            and call.params.get("chat_id") == chat
        ]

    def current(self, reply: Call) -> dict[str, Any]:
        """The message as the chat shows it now, after any edits."""
        return self.stub.message(int(reply.params["chat_id"]), reply.result["message_id"])

    # --- what the bot stored -----------------------------------------------------------------

    async def queries(self) -> list[QueryRow]:
        async with self.session_factory() as session:
            return list(await session.scalars(select(QueryRow).order_by(QueryRow.id)))

    async def feedback(self) -> list[FeedbackRow]:
        async with self.session_factory() as session:
            return list(await session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))

    async def article_id(self, title: str) -> int:
        async with self.session_factory() as session:
            found = await session.scalar(select(ArticleRow.id).where(ArticleRow.title == title))
        assert found is not None, f"no article titled {title!r}"
        return found

    async def title_of(self, article_id: int) -> str | None:
        async with self.session_factory() as session:
            return await session.scalar(select(ArticleRow.title).where(ArticleRow.id == article_id))

    async def body_of(self, article_id: int) -> str | None:
        async with self.session_factory() as session:
            return await session.scalar(select(ArticleRow.body).where(ArticleRow.id == article_id))


class LaunchBot(Protocol):
    def __call__(
        self,
        search: SearchSettings,
        extra_articles: Sequence[ArticleDraft] = (),
        **settings_overrides: object,
    ) -> Awaitable[BotHarness]: ...


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    """The Telegram stand-in alone, for tests that bring their own bot."""
    async with TelegramStub() as running:
        yield running


@pytest.fixture
async def launch_bot(
    tmp_path: Path, sample_base_file: Path, e5_onnx_encoder: OnnxEncoder
) -> AsyncIterator[LaunchBot]:
    """Starts the production dispatcher polling the stub, with the given search bands."""
    async with AsyncExitStack() as stack:
        launched: list[BotHarness] = []

        async def launch(
            search: SearchSettings,
            extra_articles: Sequence[ArticleDraft] = (),
            **settings_overrides: object,
        ) -> BotHarness:
            assert not launched, "one bot per test: the test's database file is shared"
            stub = await stack.enter_async_context(TelegramStub())
            settings = make_settings(
                tmp_path,
                e5_onnx_encoder.path,
                search=search,
                bot_token=stub.token,
                telegram_api_url=stub.base_url,
                **settings_overrides,
            )
            # Admins pressed Start when they set the bot up: it may write to them.
            for admin in settings.admin_ids:
                stub.open_chat(admin)
            copy_database(sample_base_file, database_file(settings))
            if extra_articles:
                await import_drafts(settings, extra_articles)

            # Served as production serves it (ONNX Runtime), on vectors the sample base cached
            # with PyTorch: the two are interchangeable (tests/integration/test_onnx_parity.py).
            resources = await build_resources(settings, encoder=e5_onnx_encoder)
            stack.push_async_callback(resources.close)
            dispatcher = create_dispatcher(resources)
            tracker = UpdateTracker()
            dispatcher.update.outer_middleware(tracker)
            dispatcher.feed_update = tracker.around(dispatcher.feed_update)  # type: ignore[method-assign]
            bot = create_bot(settings)
            stack.push_async_callback(bot.session.close)
            stop = asyncio.Event()
            polling = asyncio.create_task(
                DurablePolling(
                    dispatcher,
                    bot,
                    settings.update_journal,
                    polling_timeout=5,
                    concurrency=settings.max_concurrent_updates,
                ).run(stop)
            )
            harness = BotHarness(
                stub=stub,
                settings=settings,
                session_factory=resources.session_factory,
                tracker=tracker,
                model_version=e5_onnx_encoder.version,
            )
            stack.push_async_callback(_stop_polling, stop, polling, harness)
            launched.append(harness)
            # The polling loop asks getMe before its first getUpdates: after it, stop is safe.
            await stub.wait_for("getMe", timeout=STEP_TIMEOUT)
            return harness

        yield launch


async def _stop_polling(
    stop: asyncio.Event, polling: asyncio.Task[None], harness: BotHarness
) -> None:
    """Stop without hanging, then fail if the bot crashed or Telegram refused what it sent."""
    try:
        # Updates still in flight finish first, so nothing writes to a closed database; one
        # that never finishes fails the test (after the bot is stopped).
        await harness.tracker.wait_for(set(harness.stub.pushed_at), STEP_TIMEOUT)
    finally:
        stop.set()
        try:
            await asyncio.wait_for(polling, STEP_TIMEOUT)
        except TimeoutError:
            polling.cancel()
            with suppress(asyncio.CancelledError):
                await polling
            raise
    failures = harness.unexpected_failures()
    assert not failures, f"handlers failed: {failures}"
    rejected = [
        (call.method, call.params.get("text"), call.error)
        for call in harness.stub.calls
        if call.error
        and not call.error.startswith(FAULT_PREFIX)
        and not any(expected in call.error for expected in harness.expected_errors)
    ]
    assert not rejected, f"the stub (like Telegram) rejected: {rejected}"
    left = harness.stub.planned_faults_left
    assert not left, f"planned faults that never struck: {left}"


@pytest.fixture
async def answer_band_bot(launch_bot: LaunchBot) -> BotHarness:
    """Every question is answered with its best article."""
    return await launch_bot(FORCE_ANSWER)


@pytest.fixture
async def suggest_band_bot(launch_bot: LaunchBot) -> BotHarness:
    """Every question gets suggestions."""
    return await launch_bot(FORCE_SUGGEST)


@pytest.fixture
async def nothing_band_bot(launch_bot: LaunchBot) -> BotHarness:
    """No question is confident enough to answer or suggest."""
    return await launch_bot(FORCE_NOTHING)


@pytest.fixture
async def default_bot(launch_bot: LaunchBot) -> BotHarness:
    """The bands the model recommends, as production runs."""
    return await launch_bot(DEFAULT_BANDS)
