"""The inbox's notice sender as a restarted `faqbot run` would start it, at a time a test picks."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from bot.app import create_bot
from bot.notifications import tell_askers
from bot.runtime.inbox_notices import InboxNoticeSender, edit_message
from tests.fakes.harness import BotHarness


async def send_notices_at(harness: BotHarness, moment: datetime) -> int:
    """One look of a fresh sender (a new process: nothing in memory, only the database) at
    `moment`; how many people it reached."""
    bot = create_bot(harness.settings)
    try:
        sender = InboxNoticeSender(
            harness.session_factory,
            partial(tell_askers, bot),
            edit=partial(edit_message, bot),
            clock=lambda: moment,
        )
        return await sender.send_due()
    finally:
        await bot.session.close()
