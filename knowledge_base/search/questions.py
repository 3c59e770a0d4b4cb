"""Question cleaning, and the form in which two questions count as the same one."""

from __future__ import annotations

from knowledge_base.text_rules import visible


def question_key(text: str) -> str:
    """The form in which two questions count as the same one."""
    return " ".join(text.split()).casefold()


def clean_question(text: str) -> str:
    """One line of text the model, the database and Telegram all accept: whitespace folded,
    lone surrogates (which no UTF-8 codec takes) replaced; empty when nothing in it is
    visible (only zero-width or control characters)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split()) if visible(text) else ""
