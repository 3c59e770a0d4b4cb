"""Checks Telegram HTML (the markup of an admin's formatted article) and gives its plain text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The tags Telegram's Bot API accepts (https://core.telegram.org/bots/api#html-style), and the
# attributes each may carry. Anything else is refused: a file that Telegram would refuse to
# send, or would show differently, must not reach the base.
_PLAIN_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler"})
_LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")
# Inside these nothing but text (and, in <pre>, one <code> with the block's language).
_VERBATIM = frozenset({"code", "pre", "tg-emoji", "tg-time"})

_START = re.compile(
    r"<([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z][A-Za-z0-9-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(/?)>"
)
_END = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ATTRIBUTE = re.compile(
    r"([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?"
)
# The only named entities Telegram decodes, and numeric ones.
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot);|#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});)")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class TelegramHtmlError(ValueError):
    """HTML that Telegram would refuse or show otherwise; `reason` says why, in English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Open:
    tag: str
    verbatim: bool


def plain_text(html: str) -> str:
    """The text Telegram shows for `html` (tags removed, entities decoded): the same text
    aiogram's `message.text` has for the message whose `html_text` this is.

    Raises TelegramHtmlError for a tag Telegram does not accept, a bad attribute or link,
    tags not properly nested or not closed, or an `&` that starts no valid entity."""
    out: list[str] = []
    stack: list[_Open] = []
    position = 0
    while position < len(html):
        char = html[position]
        if char == "<":
            end = _END.match(html, position)
            if end is not None:
                _close(stack, end.group(1).lower())
                position = end.end()
                continue
            start = _START.match(html, position)
            if start is None:
                raise TelegramHtmlError(
                    f"a '<' at character {position + 1} opens no tag: write it as &lt;"
                )
            tag = start.group(1).lower()
            if start.group(3):
                raise TelegramHtmlError(f"<{tag}/>: Telegram has no self-closing tags")
            stack.append(_open(tag, _attributes(tag, start.group(2)), stack))
            position = start.end()
        elif char == "&":
            entity = _ENTITY.match(html, position)
            if entity is None:
                raise TelegramHtmlError(
                    f"an '&' at character {position + 1} starts no entity: write it as &amp;"
                )
            out.append(_decode(entity))
            position = entity.end()
        else:
            out.append(char)
            position += 1
    if stack:
        raise TelegramHtmlError(f"<{stack[-1].tag}> is not closed")
    return "".join(out)


def _close(stack: list[_Open], tag: str) -> None:
    if not stack:
        raise TelegramHtmlError(f"</{tag}> closes no open tag")
    if stack[-1].tag != tag:
        raise TelegramHtmlError(f"</{tag}> where </{stack[-1].tag}> was expected")
    stack.pop()


def _open(tag: str, attributes: dict[str, str | None], stack: list[_Open]) -> _Open:
    """The opened tag, once its place and attributes are checked."""
    inside = stack[-1] if stack else None
    if inside is not None and inside.verbatim and not (inside.tag == "pre" and tag == "code"):
        raise TelegramHtmlError(f"<{tag}> inside <{inside.tag}>, which holds only text")
    if tag in _PLAIN_TAGS:
        _expect(tag, attributes, required=(), optional=())
    elif tag == "span":
        _expect(tag, attributes, required=("class",), optional=())
        if attributes["class"] != "tg-spoiler":
            raise TelegramHtmlError('<span> must be <span class="tg-spoiler">')
    elif tag == "a":
        _expect(tag, attributes, required=("href",), optional=())
        href = attributes["href"] or ""
        if not href.lower().startswith(_LINK_SCHEMES):
            raise TelegramHtmlError(f"link {href!r}: only http, https, tg and mailto links")
        if any(open_tag.tag == "a" for open_tag in stack):
            raise TelegramHtmlError("a link inside a link")
    elif tag == "code":
        # aiogram writes a block's language as `language="language-…"`; Telegram reads `class`.
        _expect(tag, attributes, required=(), optional=("class", "language"))
        for name in ("class", "language"):
            value = attributes.get(name)
            if name in attributes and not (value or "").startswith("language-"):
                raise TelegramHtmlError(f'<code {name}="…"> must name a language-…')
    elif tag == "pre":
        _expect(tag, attributes, required=(), optional=())
    elif tag == "blockquote":
        _expect(tag, attributes, required=(), optional=("expandable",))
        if any(open_tag.tag == "blockquote" for open_tag in stack):
            raise TelegramHtmlError("a quote inside a quote")
    elif tag == "tg-emoji":
        _expect(tag, attributes, required=("emoji-id",), optional=())
        if not (attributes["emoji-id"] or "").isdigit():
            raise TelegramHtmlError("<tg-emoji emoji-id> must be a number")
    elif tag == "tg-time":
        # aiogram writes a date entity this way.
        _expect(tag, attributes, required=("unix",), optional=("format",))
        if not (attributes["unix"] or "").isdigit():
            raise TelegramHtmlError("<tg-time unix> must be a number")
    else:
        raise TelegramHtmlError(f"<{tag}> is not a tag Telegram accepts")
    return _Open(tag, tag in _VERBATIM)


def _attributes(tag: str, written: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match in _ATTRIBUTE.finditer(written):
        name = match.group(1).lower()
        if name in found:
            raise TelegramHtmlError(f"<{tag}> has the attribute {name} twice")
        raw = next((g for g in match.group(2, 3, 4) if g is not None), None)
        # In a value an '&' that starts no entity stays as written (aiogram writes a link's
        # query string as it is, and Telegram reads it so).
        found[name] = None if raw is None else _ENTITY.sub(_decode, raw)
    return found


def _expect(
    tag: str,
    attributes: dict[str, str | None],
    required: tuple[str, ...],
    optional: tuple[str, ...],
) -> None:
    unknown = sorted(set(attributes) - set(required) - set(optional))
    if unknown:
        raise TelegramHtmlError(f"<{tag}> cannot have the attribute {unknown[0]}")
    missing = [name for name in required if attributes.get(name) is None]
    if missing:
        raise TelegramHtmlError(f"<{tag}> needs the attribute {missing[0]}")


def _decode(entity: re.Match[str]) -> str:
    named, decimal, hexadecimal = entity.groups()
    if named:
        return _NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise TelegramHtmlError(f"{entity.group(0)} is not a character")
    return chr(code)


def body_beside(html: str | None, text: str) -> str:
    """The plain body to store beside `html`: the plain text of `html` itself, so the pair
    agrees (the strip() of a message's text and of its HTML differ when the text starts or
    ends inside a tag: "<b> x</b>"); `text` when there is no formatting, or when the HTML is
    one this module refuses (an export of it is then refused on import, with its reason)."""
    if html is None:
        return text
    try:
        return plain_text(html)
    except TelegramHtmlError:
        return text
