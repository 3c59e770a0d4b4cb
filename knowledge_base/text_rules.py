"""What text the base accepts: the limits on each field, control characters refused, invisible
characters not counted as text, and titles compared as people read them."""

from __future__ import annotations

import unicodedata

MAX_TITLE_CHARS = 300
MAX_CATEGORY_CHARS = 100
# A phrasing is a question, not a story.
MAX_PHRASING_CHARS = 1000
# An article reaches people in Telegram messages of 4,096 characters; a body of this size
# takes several of them already.
MAX_BODY_CHARS = 16_000
# Characters that show nothing and separate nothing: a title that differs from another only
# by one of these is the same title.
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Layout characters a body may hold; every other control character is refused.
LAYOUT = frozenset("\t\n\r")


def control_character(text: str, allowed: frozenset[str] = LAYOUT) -> str | None:
    """The first control character (NUL, ESC, …) in the text other than `allowed`, or None."""
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in allowed:
            return char
    return None


def visible(text: str) -> bool:
    """Whether the text shows anything: not only spaces, controls and zero-width characters."""
    return any(
        not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp")
        for char in text
    )


def normal_title(title: str) -> str:
    """A title as people read it: Unicode-normalised (NFC), zero-width characters dropped,
    surrounding whitespace stripped; two titles that look the same compare equal."""
    return unicodedata.normalize("NFC", title).translate(ZERO_WIDTH).strip()
