"""faqbot as `faqbot run` wires it (build_resources, create_dispatcher, create_bot, durable
polling) on a model of fixed vectors: for end-to-end tests of what the bot does with its
default settings, where no real model needs to load."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_resources, create_bot, create_dispatcher
from bot.config import Settings
from bot.runtime.polling import DurablePolling
from knowledge_base.storage.engine import upgrade_database
from tests.fakes.encoders import TableEncoder
from tests.fakes.settings import make_settings
from tests.fakes.telegram import Call, TelegramStub

# Any text the table does not name: far from everything it names along [1, 0].
ELSEWHERE = (0.0, 1.0)
WAIT = 10.0


@dataclass
class FixedVectorBot:
    """The running bot, the stand-in it polls, and its database."""

    stub: TelegramStub
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]

    async def reply_to(
        self, user_id: int, push: Callable[[], object], method: str = "sendMessage"
    ) -> Call:
        """Push an update (push_text, push_document …); the first `method` call to the
        person's chat after it that Telegram took."""
        mark = self.stub.mark()
        push()
        return await self.stub.wait_for(
            method,
            lambda call: str(call.params.get("chat_id")) == str(user_id) and call.error is None,
            timeout=WAIT,
            after=mark,
        )


@asynccontextmanager
async def fixed_vector_bot(
    tmp_path: Path,
    vectors: Mapping[str, Sequence[float]],
    prepare: Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]] | None = None,
    **settings_overrides: object,
) -> AsyncIterator[FixedVectorBot]:
    """The bot with the default settings but `settings_overrides`, its model giving each text
    its vector in `vectors` (two dimensions; ELSEWHERE for any other text). `prepare(factory)`
    fills the database before the bot starts, as another process would have."""
    async with TelegramStub() as stub:
        settings = make_settings(
            tmp_path,
            tmp_path / "fixed-vectors",
            bot_token=stub.token,
            telegram_api_url=stub.base_url,
            **settings_overrides,
        )
        for admin in settings.admin_ids:
            stub.open_chat(admin)
        await asyncio.to_thread(upgrade_database, settings.database_url)
        table: defaultdict[str, Sequence[float]] = defaultdict(lambda: ELSEWHERE, vectors)
        encoder = TableEncoder("fixed-vectors", table)
        resources = await build_resources(settings, encoder=encoder)  # type: ignore[arg-type]
        bot = create_bot(settings)
        stop = asyncio.Event()
        polling: asyncio.Task[None] | None = None
        try:
            if prepare is not None:
                await prepare(resources.session_factory)
                await resources.search.rebuild(resources.session_factory)
            dispatcher = create_dispatcher(resources)
            polling = asyncio.create_task(
                DurablePolling(dispatcher, bot, settings.update_journal, polling_timeout=1).run(
                    stop
                )
            )
            await stub.wait_for("getUpdates", timeout=WAIT)
            yield FixedVectorBot(stub, settings, resources.session_factory)
        finally:
            stop.set()
            if polling is not None:
                await asyncio.wait_for(polling, WAIT + 10.0)
            await bot.session.close()
            await resources.close()
