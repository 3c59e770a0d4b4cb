"""Splitting a text too long for one Telegram message into parts, each valid Telegram HTML.

Telegram counts a message's length after the HTML is parsed away, so the splitting works on
the visible text and measures it in UTF-16 code units (an emoji is two). A part ends at the
best break within its room — a blank line, else a line break, else a sentence end, else a
space, else anywhere between two characters — and never inside a tag or an HTML entity. The
formatting open at a break is closed at the end of the part and reopened at the start of the
next. A <pre> or <code> block is kept whole unless it alone is longer than a part."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape, unescape

_TOKEN = re.compile(r"<[^>]*>|&[^;\s<>&]{1,32};|[\s\S]")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][a-zA-Z0-9-]*)")
_CODE_TAGS = frozenset({"pre", "code"})
# A sentence ends at one of these, then maybe a closing quote or bracket, then a space.
_SENTENCE_END = re.compile(r"[.!?…][»\"')\]]*(?=\s)")
# Characters that belong to the one before them: a hard cut never goes before one.
_JOINING = re.compile(r"[\u200d\ufe0e\ufe0f\u0300-\u036f\U0001f3fb-\U0001f3ff]")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_text(html: str) -> str:
    """What Telegram shows of a Telegram HTML text: the tags parsed away, entities decoded."""
    return "".join(token.visible for token in _tokens(html))


@dataclass(frozen=True)
class _Token:
    raw: str
    visible: str
    # For a tag: its name (lower case) and whether it closes; None for text.
    tag: str | None = None
    closing: bool = False


def _tokens(html: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(html):
        raw = match.group()
        if raw.startswith("<") and len(raw) > 1:
            name = _TAG_NAME.match(raw)
            tag = name.group(1).lower() if name else ""
            tokens.append(_Token(raw, "", tag, raw.startswith("</")))
        elif raw.startswith("&") and len(raw) > 1:
            tokens.append(_Token(raw, unescape(raw)))
        else:
            tokens.append(_Token(raw, raw))
    return tokens


@dataclass(frozen=True)
class _Span:
    """One part's visible characters: [start, end) of the whole visible text."""

    start: int
    end: int


def split_plain(text: str, first_room: int, room: int) -> list[str]:
    """Plain text in parts, each escaped for HTML; the first has `first_room` UTF-16 units,
    the others `room`."""
    spans = _spans(text, first_room, room, splittable=[True] * (len(text) + 1))
    return [escape(text[span.start : span.end]) for span in spans]


def split_html(html: str, first_room: int, room: int) -> list[str]:
    """Telegram HTML in parts, each valid Telegram HTML on its own; the first part's visible
    text has `first_room` UTF-16 units, the others' `room`."""
    tokens = _tokens(html)
    visible, code_block = _visible_with_blocks(tokens)
    block_lengths: dict[int, int] = {}
    for char, block in zip(visible, code_block, strict=True):
        if block is not None:
            block_lengths[block] = block_lengths.get(block, 0) + utf16_length(char)
    # A break between two characters of one code block only if that block cannot fit a part.
    splittable = [True] * (len(visible) + 1)
    for position in range(1, len(visible)):
        block = code_block[position]
        if block is not None and block == code_block[position - 1]:
            splittable[position] = block_lengths[block] > room
    spans = _spans(visible, first_room, room, splittable)
    return _render(tokens, spans)


def _visible_with_blocks(tokens: list[_Token]) -> tuple[str, list[int | None]]:
    """The visible text, and for each of its characters the code block it is in, if any."""
    chars: list[str] = []
    blocks: list[int | None] = []
    depth = 0
    block = 0
    for token in tokens:
        if token.tag in _CODE_TAGS:
            if token.closing:
                depth = max(depth - 1, 0)
            else:
                if depth == 0:
                    block += 1
                depth += 1
            continue
        for char in token.visible:
            chars.append(char)
            blocks.append(block if depth else None)
    return "".join(chars), blocks


def _spans(text: str, first_room: int, room: int, splittable: list[bool]) -> list[_Span]:
    spans = []
    start = 0
    budget = first_room
    while True:
        end, next_start = _break(text, start, max(budget, 1), splittable)
        if text[start:end].strip():
            spans.append(_Span(start, end))
        if next_start >= len(text):
            return spans or [_Span(0, len(text))]
        start = next_start
        budget = room


def _break(text: str, start: int, budget: int, splittable: list[bool]) -> tuple[int, int]:
    """Where the part from `start` ends, and where the next one starts (the separator between
    them is dropped)."""
    units = 0
    limit = start
    while limit < len(text) and units + utf16_length(text[limit]) <= budget:
        units += utf16_length(text[limit])
        limit += 1
    if limit == len(text):
        return limit, limit
    window = text[start : limit + 1]  # a separator may start right at the limit
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        while at > 0:
            if splittable[start + at]:
                return start + at, start + at + len(separator)
            at = window.rfind(separator, 0, at)
    for match in reversed(list(_SENTENCE_END.finditer(window))):
        end = start + match.end()
        if start < end <= limit and splittable[end]:
            return end, _skip_spaces(text, end)
    at = window.rfind(" ")
    while at > 0:
        if splittable[start + at]:
            return start + at, start + at + 1
        at = window.rfind(" ", 0, at)
    # No break of any kind fits: cut between two characters, not inside one that is drawn
    # from several (an emoji with a skin tone, a letter with an accent).
    cut = limit
    while cut > start + 1 and (not splittable[cut] or _JOINING.match(text[cut])):
        cut -= 1
    if not splittable[cut] or _JOINING.match(text[cut]):
        cut = limit  # a block that fits no part whole and no break at all: cut anywhere
    return cut, cut


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] == " ":
        position += 1
    return position


def _render(tokens: list[_Token], spans: list[_Span]) -> list[str]:
    """The tokens of each span, with the tags open at its start reopened and those open at its
    end closed."""
    parts: list[str] = []
    # The tags open at this point of the whole text, and those opened in the part being built
    # (the same objects, so a closing tag knows whether its opening is in this part).
    open_tags: list[_Token] = []
    part_tags: list[_Token] = []
    buffer: list[str] | None = None
    index = 0  # the span being built or next to build
    position = 0  # the visible position of the next character

    def finish() -> None:
        nonlocal buffer
        assert buffer is not None
        buffer.extend(_closing(tag) for tag in reversed(part_tags))
        parts.append("".join(buffer))
        part_tags.clear()
        buffer = None

    for token in tokens:
        if token.tag is not None:
            if token.closing:
                if open_tags and part_tags and part_tags[-1] is open_tags[-1]:
                    assert buffer is not None
                    buffer.append(token.raw)
                    part_tags.pop()
                if open_tags:
                    open_tags.pop()
            elif token.raw.endswith("/>"):
                continue  # no self-closing tags in Telegram HTML; drop one rather than fail
            else:
                open_tags.append(token)
                if buffer is not None and index < len(spans) and position < spans[index].end:
                    buffer.append(token.raw)
                    part_tags.append(token)
            continue
        for _char in token.visible:
            if buffer is not None and position >= spans[index].end:
                finish()
                index += 1
            if buffer is None and index < len(spans) and position >= spans[index].start:
                buffer = [tag.raw for tag in open_tags]
                part_tags.extend(open_tags)
            position += 1
        if buffer is not None:
            buffer.append(token.raw)
    if buffer is not None:
        finish()
    return parts


def _closing(tag: _Token) -> str:
    return f"</{tag.tag}>"
