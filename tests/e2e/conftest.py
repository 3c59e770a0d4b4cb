"""The real bot polling the local Telegram stand-in, on a fresh copy of the sample base per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import pytest

from bot.app import build_resources, create_bot, create_dispatcher
from bot.config import SearchSettings
from bot.runtime.polling import DurablePolling
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.types import ArticleDraft
from tests.fakes.databases import copy_database, database_file, import_drafts
from tests.fakes.harness import (
    DEFAULT_BANDS,
    FORCE_ANSWER,
    FORCE_NOTHING,
    FORCE_SUGGEST,
    STEP_TIMEOUT,
    BotHarness,
    IndexRefreshes,
    LaunchBot,
    UpdateTracker,
)
from tests.fakes.settings import make_settings
from tests.fakes.telegram import FAULT_PREFIX, TelegramStub


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    """The Telegram stand-in alone, for tests that bring their own bot."""
    async with TelegramStub() as running:
        yield running


@pytest.fixture
async def launch_bot(
    tmp_path: Path, sample_base_file: Path, e5_onnx_encoder: OnnxEncoder, shared_models: None
) -> AsyncIterator[LaunchBot]:
    """Starts the production dispatcher polling the stub, with the given search bands. A bot
    that swaps back to the base e5 (a rollback) serves the run's loaded copy."""
    async with AsyncExitStack() as stack:
        launched: list[BotHarness] = []

        async def launch(
            search: SearchSettings,
            extra_articles: Sequence[ArticleDraft] = (),
            *,
            digest_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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

            # Served as production serves it (ONNX Runtime).
            resources = await build_resources(settings, encoder=e5_onnx_encoder)
            stack.push_async_callback(resources.close)
            index_refreshes = IndexRefreshes()
            search = resources.search
            search.refresh_if_changed = index_refreshes.around(search.refresh_if_changed)  # type: ignore[method-assign]
            dispatcher = create_dispatcher(resources, digest_sleep)
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
                index_refreshes=index_refreshes,
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
