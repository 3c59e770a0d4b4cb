"""Who talks to the bot in the tests: the Telegram user ids of a person, another, and an admin."""

from __future__ import annotations

USER_ID = 42
OTHER_USER_ID = 43
# An admin only where a test names it in admin_ids.
ADMIN = 777
