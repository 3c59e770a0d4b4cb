"""The e2e harness: the running bot as a person in Telegram sees it (BotHarness), how a test
launches it (LaunchBot, the search bands), and the middleware that tells when an update is done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SearchSettings, Settings
from knowledge_base.storage.tables import ArticleRow, FeedbackRow, QueryRow
from knowledge_base.types import ArticleDraft
from tests.fakes.people import ADMIN, USER_ID
from tests.fakes.telegram import REPLY_METHODS, Call, TelegramStub

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


class IndexRefreshes:
    """Notes each look the running bot takes at the database for changed articles (the
    periodic refresh, or an admin's change served at once), and whether it rebuilt the index."""

    def __init__(self) -> None:
        self.rebuilt: list[bool] = []
        self._changed = asyncio.Event()

    def around(
        self, refresh_if_changed: Callable[..., Awaitable[bool]]
    ) -> Callable[..., Awaitable[bool]]:
        """Wraps the search engine's refresh_if_changed."""

        async def noted(*args: Any, **kwargs: Any) -> bool:
            rebuilt = await refresh_if_changed(*args, **kwargs)
            self.rebuilt.append(rebuilt)
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
            return rebuilt

        return noted

    def mark(self) -> int:
        return len(self.rebuilt)

    async def wait_for_rebuild(self, after: int, timeout: float = STEP_TIMEOUT) -> None:
        """Until a look noted after `after` (a `mark()` taken before the change) has rebuilt
        the index."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(self.rebuilt[after:]):
            remaining = deadline - loop.time()
            if remaining <= 0:
                looks = len(self.rebuilt) - after
                raise AssertionError(
                    f"the index was not rebuilt within {timeout:g} s ({looks} looks found "
                    "nothing changed)"
                )
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
    index_refreshes: IndexRefreshes
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

    async def say_formatted(
        self, text: str, entities: Sequence[dict[str, Any]], user_id: int | None = None
    ) -> list[Call]:
        """Send a text message with formatting (Bot API MessageEntity dicts, offsets in UTF-16
        units: bold, text_link, code…), as a person formats it in Telegram; the replies."""

        def push(user: int) -> int:
            message = self.stub.message_from(user, text=text, entities=list(entities))
            return self.stub.push_update({"message": message})

        return await self.send(push, user_id)

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

    async def shown_once(
        self, reply: Call, done: Callable[[str], bool], timeout: float = STEP_TIMEOUT
    ) -> str:
        """The text of the message of `reply` as the chat shows it, once `done(text)` holds:
        looked at now, and again after each message the bot edits; fails past `timeout`,
        listing the texts the message went through."""
        shown: list[str] = []

        def finished() -> bool:
            text = str(self.current(reply)["text"])
            if not shown or shown[-1] != text:
                shown.append(text)
            return done(text)

        mark = self.stub.mark()
        if not finished():
            try:
                await self.stub.wait_for(
                    "editMessageText", lambda _call: finished(), timeout=timeout, after=mark
                )
            except AssertionError:
                raise AssertionError(
                    f"the message did not get there within {timeout:g} s; it showed {shown}"
                ) from None
        return shown[-1]

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

    async def category_of(self, article_id: int) -> str | None:
        async with self.session_factory() as session:
            return await session.scalar(
                select(ArticleRow.category).where(ArticleRow.id == article_id)
            )


class LaunchBot(Protocol):
    """What the launch_bot fixture gives: starts the bot with these bands, articles, settings
    (and how the admins' digest waits out its period: a fake clock's sleep in a digest test)."""

    def __call__(
        self,
        search: SearchSettings,
        extra_articles: Sequence[ArticleDraft] = (),
        *,
        digest_sleep: Callable[[float], Awaitable[None]] = ...,
        **settings_overrides: object,
    ) -> Awaitable[BotHarness]: ...


async def launch_admin_bot(launch_bot: LaunchBot, **settings_overrides: object) -> BotHarness:
    """The bot with ADMIN as its admin; every question is answered with its best article."""
    return await launch_bot(FORCE_ANSWER, (), admin_ids=frozenset({ADMIN}), **settings_overrides)
