"""End-to-end tests: the real bot polling the local Telegram stand-in."""
