"""Reading what the bot sent: the HTML it sent, the text the chat shows, and the buttons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tests.fakes.telegram import Call, TelegramStub


def sent_text(call: Call) -> str:
    """The HTML the bot sent."""
    return str(call.params["text"])


def sent_texts(calls: Iterable[Call]) -> list[str]:
    """The HTML of each call ("None" for a call that sent no text)."""
    return [str(call.params.get("text")) for call in calls]


def shown_text(call: Call | Mapping[str, object]) -> str:
    """The text as the chat shows it: HTML parsed into plain text, as Telegram does; of the
    message a call returned, or of a message as the stand-in holds it now (TelegramStub.message)."""
    message = call.result if isinstance(call, Call) else call
    return str(message["text"])


def shown_text_or_caption(call: Call) -> str:
    """The shown text of a message, the caption of a document or picture, or "" for neither."""
    return str(call.result.get("text") or call.result.get("caption") or "")


def buttons(call: Call) -> list[tuple[str, str]]:
    """The inline buttons the bot sent with the call: (text, callback data), row by row."""
    return TelegramStub.buttons(call)
