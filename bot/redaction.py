"""Keeps the bot token out of every output: Bot API request URLs carry it."""

from __future__ import annotations

import logging


class RedactingFormatter(logging.Formatter):
    """Formats a log line, traceback included, and blanks the bot token out of it: request
    URLs carry the token. The record itself is left as it is for other handlers."""

    def __init__(self, fmt: str, token: str) -> None:
        super().__init__(fmt)
        self._token = token

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._token)


def redact(text: str, token: str) -> str:
    return text.replace(token, "<BOT_TOKEN>") if token else text
