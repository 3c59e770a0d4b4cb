"""Tells the admins (ADMIN_IDS) about questions the base could not answer."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot

from bot.runtime.telegram_retry import TELEGRAM_ERRORS

log = logging.getLogger(__name__)


async def notify_admins(
    bot: Bot, admin_ids: Iterable[int], text: str, *, author: int | None
) -> int:
    """Send `text` to every admin but the author of the question; returns how many got it."""
    delivered = 0
    for admin_id in sorted(admin_ids):
        if admin_id == author:
            continue
        try:
            await bot.send_message(admin_id, text)
            delivered += 1
        except TELEGRAM_ERRORS as error:
            # Telegram lets a bot write only to people who started it and did not block it;
            # and a fault that outlived the retries on one admin must not skip the others.
            log.warning("admin %d was not notified: %s", admin_id, error)
    return delivered
