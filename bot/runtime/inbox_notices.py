"""The inbox's pending notices: people whose questions were attached are told once the
admin's undo period is over, by whichever process takes the notice in the database first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime.periodic import Periodic
from bot.texts import admin as admin_texts
from knowledge_base.inbox import InboxNotices
from knowledge_base.types import Article

log = logging.getLogger(__name__)

# How often the database is asked for notices whose undo period is over.
CHECK_SECONDS = 15.0

# Sends each person (user, query, question) the article; how many got it (a refusal for one
# person must not skip the others): bot.notifications.tell_askers with the bot.
Tell = Callable[[list[tuple[int, int, str]], Article], Awaitable[int]]
# Replaces a message's text and drops its buttons (chat, message, text): edit_message with the
# bot.
Edit = Callable[[int, int, str], Awaitable[None]]


async def edit_message(bot: Bot, chat_id: int, message_id: int, text: str) -> None:
    """The admin's confirmation, now without «Отменить». A message deleted or too old to edit
    is no reason to stop sending the others."""
    try:
        await bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=None
        )
    except TelegramAPIError as error:
        log.warning("could not edit the confirmation %s/%s: %s", chat_id, message_id, error)


def utc_now() -> datetime:
    return datetime.now(UTC)


class InboxNoticeSender:
    """Sends due notices while the bot runs. A notice is marked sent (committed) before the
    first message goes out, so a restart or a second replica never tells anyone twice; a
    person Telegram refuses is logged and the others are still told."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tell: Tell,
        *,
        edit: Edit | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        interval: float = CHECK_SECONDS,
    ) -> None:
        self._notices = InboxNotices(session_factory)
        self._tell = tell
        self._edit = edit
        # The time and the waiting between looks (a test passes a fake clock's).
        self._clock = clock
        self._periodic = Periodic(
            self.send_due,
            lambda: interval,
            "sending the inbox notices failed; trying again later",
            log,
            sleep=sleep,
            pause_first=False,
        )

    async def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def send_due(self) -> int:
        """Tell the people of every notice due now; how many people were reached."""
        now = self._clock()
        reached = 0
        for notice_id in await self._notices.due(now):
            claimed = await self._notices.claim(notice_id, now)
            if claimed is None:
                continue  # another process took it, or the admin undid it meanwhile
            article, people = claimed
            if article is None:
                log.warning("inbox notice %d: its article is gone; nobody told", notice_id)
                continue
            told = await self._tell(people, article)
            log.info("inbox notice %d: %d of %d people told", notice_id, told, len(people))
            reached += told
            await self._confirm(notice_id, article, told)
        return reached

    async def _confirm(self, notice_id: int, article: Article, told: int) -> None:
        """The admin's «…до тех пор привязку можно отменить» becomes «ответ отправлен»."""
        where = await self._notices.confirmation(notice_id)
        if where is None or self._edit is None:
            return
        chat_id, message_id, questions = where
        await self._edit(chat_id, message_id, admin_texts.attached(article.title, questions, told))
