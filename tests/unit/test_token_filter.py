"""The bot token never reaches the log, not even inside a traceback."""

from __future__ import annotations

import io
import logging

from bot.redaction import RedactingFormatter

TOKEN = "123456789:AAsecret-token"


def test_the_token_is_blanked_in_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", TOKEN))
    log = logging.getLogger("test-token-filter")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET https://api.telegram.org/bot%s/getMe failed", TOKEN)
        try:
            raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates")
        except ConnectionError:
            log.exception("polling failed")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output and "secret" not in output
    assert output.count("<BOT_TOKEN>") == 2
    assert "ConnectionError" in output and "polling failed" in output


def test_an_empty_token_changes_nothing() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    assert RedactingFormatter("%(message)s", "").format(record) == "plain text"
