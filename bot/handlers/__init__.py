"""Telegram handlers: thin translators between updates and the knowledge-base services."""
