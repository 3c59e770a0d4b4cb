"""Question cleaning, the form in which two questions count as the same one, and the few
whole messages that are courtesy rather than a question («привет», «спасибо»)."""

from __future__ import annotations

import re

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


# Whole messages only, in the form of `_courtesy_key`: a greeting or a thanks with a question
# in it («привет, как сменить пароль?») is not here and is searched as any question. Short on
# purpose: a word that could start a real question («помогите», «вопрос») does not belong.
GREETINGS = frozenset(
    {
        "привет",
        "приветствую",
        "здравствуйте",
        "здравствуй",
        "добрый день",
        "доброе утро",
        "добрый вечер",
        "доброго дня",
        "всем привет",
        "hi",
        "hello",
    }
)
THANKS = frozenset(
    {
        "спасибо",
        "спасибо большое",
        "большое спасибо",
        "спс",
        "благодарю",
        "ок",
        "окей",
        "ok",
        "okay",
        "хорошо",
        "понятно",
        "ясно",
        "thanks",
        "thank you",
    }
)
_NOT_A_LETTER = re.compile(r"[^\w\s]|[\d_]")


def _courtesy_key(text: str) -> str:
    """«Привет!!» and «привет 🙂» as «привет»: letters only, lower case, ё as е."""
    letters = _NOT_A_LETTER.sub(" ", question_key(text).replace("ё", "е"))
    return " ".join(letters.split())


def is_greeting(text: str) -> bool:
    """The whole (cleaned) message is a greeting and asks nothing."""
    return _courtesy_key(text) in GREETINGS


def is_thanks(text: str) -> bool:
    """The whole (cleaned) message is a thanks or an «ок» and asks nothing."""
    return _courtesy_key(text) in THANKS
