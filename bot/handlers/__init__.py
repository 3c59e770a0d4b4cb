"""Telegram handlers: thin translators between updates and the knowledge-base services."""

from typing import Protocol


class IndexUpdater(Protocol):
    """What serves a change at once: the running bot's index refresher."""

    async def serve_changes(self) -> None:
        """The base changed: rebuild the live index now."""

    async def refresh(self) -> None:
        """Look for a newly active model (and changed articles) now."""
