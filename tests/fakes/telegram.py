"""A local stand-in of the Telegram Bot API that e2e tests and the load benchmark poll."""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import math
import mimetypes
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

DEFAULT_TOKEN = "123456789:stub-token-for-local-tests"
BOT_FIRST_NAME = "FAQ bot"
BOT_USERNAME = "faqbot_stub_bot"

# Telegram's own limits, so a bot that breaks them fails here and not only in production.
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COMMANDS = 100
# Scopes of setMyCommands that name no chat.
_COMMAND_SCOPES_OF_ALL = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
# What a button may do; a button with none of these (or two) is refused.
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Update types Telegram sends when a bot never chose (allowed_updates empty or never given).
_NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})

# aiogram JSON-encodes every non-string value of a form (ints, bools, nested objects). These
# parameters are strings by definition and must stay strings even when they look like JSON
# ("123" as text, a numeric callback query id).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "data",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "parse_mode",
        "action",
        "url",
        "description",
        "short_description",
        "name",
        "language_code",
        "query",
        "document",
        "photo",
        "voice",
        "audio",
        "video",
        "sticker",
        "animation",
        "message_effect_id",
        "business_connection_id",
        "secret_token",
    }
)


@dataclass
class Call:
    """One Bot API request the bot made, with what the stub answered (`result` or `error`)."""

    method: str
    params: dict[str, Any]
    time: float  # time.monotonic() when the stub answered
    result: Any = None
    error: str | None = None


# Every fault the stub injects is recorded with an error starting with this.
FAULT_PREFIX = "fault: "
# The error of a call made while Telegram had told the bot to wait: a bug of the bot's.
FLOOD_VIOLATION = "flood control violated: "


@dataclass(frozen=True)
class Fault:
    """A way a Bot API call goes wrong now and then in production.

    slow: answered normally after `seconds`; retry_after: 429 with `retry_after` = `seconds`;
    server_error: 500 with a JSON body; bad_gateway: 502 with an HTML body, as a proxy sends;
    drop_before: the connection closes before the call is carried out; drop_after: the call
    is carried out (a message is sent), then the connection closes before the answer.
    """

    kind: str
    seconds: float = 0.0
    # bad_request: a final 400 with this description (e.g. "query is too old …").
    description: str = ""

    KINDS = (
        "slow",
        "retry_after",
        "server_error",
        "bad_gateway",
        "drop_before",
        "drop_after",
        "bad_request",
    )


_MESSAGE_SENDS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
# Messages to one chat that may go at once before its rate of one a second applies.
CHAT_BURST = 3


def _flood_key(method: str, params: Mapping[str, Any]) -> str:
    """What one 429 holds: its chat; for a call to no chat, that same call."""
    if "chat_id" in params:
        return f"chat {params['chat_id']}"
    which = params.get("callback_query_id") or params.get("inline_message_id") or ""
    return f"{method} {which}"


def _too_many(retry: int) -> str:
    return f"Too Many Requests: retry after {retry}"


def _too_many_response(retry: int) -> web.Response:
    return web.json_response(
        {
            "ok": False,
            "error_code": 429,
            "description": _too_many(retry),
            "parameters": {"retry_after": retry},
        },
        status=429,
    )


class _SendingRates:
    """Token buckets: `per_second` messages in all, `per_chat` a second to one chat (after a
    burst of CHAT_BURST)."""

    def __init__(self, per_second: float, per_chat: float) -> None:
        self._rates = {"*": (per_second, per_second)}
        self._per_chat = (per_chat, float(CHAT_BURST))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, chat: str, now: float) -> int:
        """0 if a message to `chat` may go now (and counts it); else the seconds to wait."""
        keys = ("*", f"chat {chat}")
        levels = [self._level(key, now) for key in keys]
        short = [key for key, level in zip(keys, levels, strict=True) if level < 1.0]
        if short:
            return max(1, math.ceil(max(1.0 / self._rate(key)[0] for key in short)))
        for key, level in zip(keys, levels, strict=True):
            self._buckets[key] = (level - 1.0, now)
        return 0

    def _rate(self, key: str) -> tuple[float, float]:
        return self._rates.get(key, self._per_chat)

    def _level(self, key: str, now: float) -> float:
        rate, capacity = self._rate(key)
        tokens, when = self._buckets.get(key, (capacity, now))
        return min(capacity, tokens + (now - when) * rate)


@dataclass(frozen=True)
class StoredFile:
    """A file the stub can serve: registered by a test or uploaded by the bot."""

    file_id: str
    file_unique_id: str
    file_name: str
    file_path: str
    mime_type: str
    content: bytes

    def as_document(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": len(self.content),
        }


class TelegramApiError(Exception):
    """A Bot API error answer: HTTP status and body carry `error_code` and `description`."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description


def _bad_request(reason: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {reason}")


def message_as_sent(html: str) -> str:
    """The text Telegram shows for a sendMessage of `html` in HTML parse mode; raises
    TelegramApiError where Telegram would refuse it (bad HTML, too long, empty)."""
    text, _entities = TelegramStub._formatted(
        {"text": html, "parse_mode": "HTML"}, "text", "entities", MAX_TEXT_LENGTH
    )
    return text


def _utf16_length(text: str) -> int:
    # Telegram measures entity offsets and lengths in UTF-16 code units, not code points.
    return len(text.encode("utf-16-le")) // 2


def _units(char: str) -> int:
    """UTF-16 code units of one character: 2 for one outside the BMP (most emoji)."""
    return 2 if ord(char) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    # Telegram's parse errors point at a byte of the UTF-8 text.
    return len(text[:index].encode())


# --- text and entities -------------------------------------------------------------------------
#
# Modelled on the code api.telegram.org runs: the Bot API server (tdlib/telegram-bot-api,
# Client::get_formatted_text) and tdlib (td/telegram/MessageEntity.cpp: parse_html,
# parse_markdown, parse_markdown_v2, fix_formatted_text; td/telegram/LinkManager.cpp:
# check_link). Error texts are tdlib's, as the Bot API passes them on.

_END = "\0"  # what tdlib's C strings read past the end


def _is_space(char: str) -> bool:
    return char in " \t\r\n\v\0"


def _is_ascii_alpha(char: str) -> bool:
    return "a" <= char <= "z" or "A" <= char <= "Z"


def _is_ascii_alnum(char: str) -> bool:
    return _is_ascii_alpha(char) or "0" <= char <= "9"


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) | 0x20) if "A" <= c <= "Z" else c for c in text)


class _EntitiesError(Exception):
    """Telegram could not parse the markup; the message follows "can't parse entities: "."""


# What a parse mode or the `entities` parameter yields: Bot API MessageEntity dicts, plus a
# code entity's "language" while HTML parsing pairs <pre> and <code class="language-…">.
_Entity = dict[str, Any]

_SPLITTABLE = ("bold", "italic", "underline", "strikethrough", "spoiler")
_BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
# "pre and code entities can't contain other entities" (and neither can a date).
_PRE_LIKE = frozenset({"pre", "code", "date_time"})
_CONTINUOUS = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bank_card_number",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)
# Telegram orders entities by offset, the longer first, then by this (tdlib's
# MessageEntity::get_type_priority; a pre with a language is 10).
_TYPE_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "date_time": 30,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


def _kind(entity: _Entity) -> str:
    # tdlib tells a pre with a language (PreCode) from a plain one.
    return "pre_code" if entity["type"] == "pre" and entity.get("language") else entity["type"]


def _end(entity: _Entity) -> int:
    return int(entity["offset"]) + int(entity["length"])


def _order(entity: _Entity) -> tuple[int, int, int]:
    priority = 10 if _kind(entity) == "pre_code" else _TYPE_PRIORITY.get(entity["type"], 50)
    return entity["offset"], -entity["length"], priority


# --- links ---


@dataclass(frozen=True)
class _HttpUrl:
    https: bool
    userinfo: str
    host: str
    is_ipv6: bool
    specified_port: int
    query: str

    def url(self) -> str:
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        port = f":{self.specified_port}" if self.specified_port else ""
        return f"{'https' if self.https else 'http'}://{userinfo}{self.host}{port}{self.query}"


def _check_url_part(part: str, name: str, allow_colon: bool) -> None:
    position = 0
    while position < len(part):
        char = part[position]
        if _is_ascii_alnum(char) or char in ".-_!$,~*'();&+=" or (allow_colon and char == ":"):
            position += 1
            continue
        if char == "%":
            digits = part[position + 1 : position + 3]
            if len(digits) == 2 and all(c in "0123456789abcdefABCDEF" for c in digits):
                position += 3
                continue
            raise ValueError(f"Wrong percent-encoded symbol in URL {name}")
        if ord(char) >= 128:  # plain UTF-8 is allowed
            position += 1
            continue
        raise ValueError(f"Disallowed character in URL {name}")


def _parse_url(url: str) -> _HttpUrl:
    """tdlib's parse_url: [http(s)://][userinfo@]host[:port][/path?query#fragment]."""
    scheme_end = next((k for k, c in enumerate(url) if c in ":/?#@[]"), len(url))
    https = False
    rest = url
    if url.startswith("://", scheme_end):
        scheme = _ascii_lower(url[:scheme_end])
        if scheme not in ("http", "https"):
            raise ValueError("Unsupported URL protocol")
        https = scheme == "https"
        rest = url[scheme_end + 3 :]
    authority_end = next((k for k, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, query = rest[:authority_end], rest[authority_end:]
    colon = len(authority) - 1
    while colon > 0 and authority[colon] not in ":]@":
        colon -= 1
    port = 0
    if colon > 0 and authority[colon] == ":":
        digits = authority[colon + 1 :].lstrip("0") or ("0" if authority[colon + 1 :] else "")
        port = int(digits) if digits.isascii() and digits.isdigit() else -1
        port = port or -1
        authority = authority[:colon]
    if not 0 <= port <= 65535:
        raise ValueError("Wrong port number specified in the URL")
    userinfo, _, host = authority.rpartition("@")
    is_ipv6 = host.startswith("[") and host.endswith("]") and len(host) >= 2
    if is_ipv6:
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError("Wrong IPv6 address specified in the URL") from None
    if not host:
        raise ValueError("URL host is empty")
    if host == ".":
        raise ValueError("Host is invalid")
    query = query.rstrip(" \t\r\n\v\0") or "/"
    if not query.startswith("/"):
        query = "/" + query
    query = "".join(f"%{ord(c):02X}" if ord(c) <= 0x20 else c for c in query)
    host = _ascii_lower(host)
    if not is_ipv6:
        _check_url_part(host, "host", allow_colon=False)
        _check_url_part(userinfo, "userinfo", allow_colon=True)
    return _HttpUrl(https, userinfo, host, is_ipv6, port, query)


def _check_link(link: str) -> str:
    """The link as Telegram keeps it (http://, https://, tg://, ton://, tonsite://; a bare
    "example.com" becomes "http://example.com/"); ValueError says why Telegram refuses it."""
    lowered = _ascii_lower(link)
    scheme = next((s for s in ("tg", "ton", "tonsite") if lowered.startswith(f"{s}:")), None)
    if scheme is not None:
        link = link[len(scheme) + 1 :]
        if link.startswith("//"):
            link = link[2:]
    url = _parse_url(link)
    if scheme is not None:
        if (
            _ascii_lower(link).startswith("http://")
            or url.https
            or url.userinfo
            or url.specified_port
            or url.is_ipv6
        ):
            raise ValueError("Wrong tg URL" if scheme == "tg" else "Wrong ton URL")
        query = url.query[1:] if url.query.startswith("/?") else url.query
        for char in url.host:
            if not (_is_ascii_alnum(char) or char in "-_" or (scheme == "tonsite" and char == ".")):
                raise ValueError("Unallowed characters in URL host")
        return f"{scheme}://{url.host}{query}"
    if "." not in url.host and not url.is_ipv6:
        raise ValueError("Wrong HTTP URL")
    return url.url()


def _checked_link(link: str) -> str:
    """What an HTML or Markdown link points to, or "" when Telegram drops the link.

    The docs show <a href="http://www.example.com/"> and <a href="tg://user?id=123456789">
    and say nothing of other links. tdlib's parse_html makes no entity of an <a> whose URL
    check_link refuses (an empty href is first replaced by the link's text): the text is
    sent without a link, not refused. An explicit text_link entity with such a URL is
    refused ("entity URL '…' is invalid: Wrong HTTP URL"), see _input_entities."""
    try:
        return _check_link(link)
    except ValueError:
        return ""


def _link_user_id(link: str) -> int | None:
    """The user a tg://user?id=… link mentions (a text_mention), as tdlib reads it."""
    url = _ascii_lower(link)
    if not url.startswith("tg:"):
        return None
    url = url[3:].removeprefix("//")
    if not url.startswith("user") or (len(url) > 4 and url[4] not in "/?#"):
        return None
    url = url[4:].removeprefix("/")
    if not url.startswith("?"):
        return None
    for parameter in url[1:].partition("#")[0].split("&"):
        key, _, value = parameter.partition("=")
        if key == "id":
            user_id = int(value) if re.fullmatch(r"-?[0-9]{1,19}", value) else 0
            return user_id if 0 < user_id < 1 << 40 else None
    return None


def _mention(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}


def _link_entity(offset: int, length: int, url: str) -> _Entity | None:
    """An inline link of HTML or Markdown: a mention, a text_link, or nothing at all."""
    user_id = _link_user_id(url)
    if user_id is not None:
        return {
            "type": "text_mention",
            "offset": offset,
            "length": length,
            "user": _mention(user_id),
        }
    checked = _checked_link(url)
    if not checked:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


_DATE_FORMAT = re.compile(r"r|w?[dD]?[tT]?")


def _date_entity(offset: int, length: int, unix_time: int, date_format: str) -> _Entity | None:
    if not _DATE_FORMAT.fullmatch(date_format):
        raise _EntitiesError("Invalid date-time format specified")
    if unix_time <= 0:
        return None
    entity: _Entity = {"type": "date_time", "offset": offset, "length": length}
    entity["unix_time"] = unix_time
    if date_format:
        entity["date_time_format"] = date_format
    return entity


def _tg_link_parameters(url: str, host: str) -> dict[str, str] | None:
    lowered = _ascii_lower(url)
    for prefix in (f"tg://{host}?", f"tg:{host}?"):
        if lowered.startswith(prefix):
            query = url[len(prefix) :]
            return dict(p.partition("=")[::2] for p in query.split("&"))
    return None


# --- HTML ---

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# The only named entities Telegram decodes; any other "&name;" stays as it is written.
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(text: str, position: int) -> tuple[int, int] | None:
    """The code point an entity at `position` stands for and where it ends, if Telegram
    decodes it: numeric ones (&#1071; &#x42f;) and &lt; &gt; &amp; &quot; only, the ";"
    optional; None leaves the "&" as text."""

    def at(index: int) -> str:
        return text[index] if index < len(text) else _END

    end = position + 1
    code = 0
    if at(position + 1) == "#":
        end += 1
        if at(position + 2) == "x":
            end += 1
            while at(end) in "0123456789abcdefABCDEF":
                code = code * 16 + int(at(end), 16)
                end += 1
        else:
            while "0" <= at(end) <= "9":
                code = code * 10 + int(at(end))
                end += 1
        if code == 0 or code >= 0x10FFFF or end - position >= 10:
            return None
    else:
        while _is_ascii_alpha(at(end)):
            end += 1
        char = _NAMED_ENTITIES.get(text[position + 1 : end])
        if char is None:
            return None
        code = ord(char)
    if at(end) == ";":
        end += 1
    return code, end


def _parse_html(markup: str) -> tuple[str, list[_Entity]]:
    """Telegram-flavoured HTML to plain text + entities (tdlib's parse_html).

    Not a browser's parser: every "<" must open or close a supported tag (so an unescaped
    «Ошибка <403>», a comment or <br> is refused), an unquoted attribute value is a name
    token, only four named entities are decoded, a stray "&" or ">" is plain text, and a
    link Telegram cannot use is dropped, its text kept.
    """
    out: list[str] = []
    length = 0
    entities: list[_Entity] = []
    # tag, argument, unix time, UTF-16 offset, index in `out`
    nested: list[tuple[str, str, int, int, int]] = []
    decoded_surrogate = False

    def at(index: int) -> str:
        return markup[index] if index < len(markup) else _END

    i = -1
    while True:
        i += 1
        if i >= len(markup):
            break
        char = markup[i]
        if char == "&":
            decoded = _decode_html_entity(markup, i)
            if decoded is not None:
                code, end = decoded
                i = end - 1
                decoded_surrogate = decoded_surrogate or 0xD800 <= code <= 0xDFFF
                out.append(chr(code))
                length += 2 if code > 0xFFFF else 1
                continue
        if char != "<":
            out.append(char)
            length += _units(char)
            continue
        begin = i
        where = _byte_offset(markup, begin)
        i += 1
        if at(i) != "/":
            while not _is_space(at(i)) and at(i) != ">":
                i += 1
            if at(i) == _END:
                raise _EntitiesError(f"Unclosed start tag at byte offset {where}")
            tag = _ascii_lower(markup[begin + 1 : i])
            if tag not in _HTML_TAGS:
                raise _EntitiesError(f'Unsupported start tag "{tag}" at byte offset {where}')
            argument, unix_time = "", 0
            while at(i) != ">":
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while not _is_space(at(i)) and at(i) not in "=>/\"'":
                    i += 1
                name = markup[name_begin:i]
                if not name:
                    raise _EntitiesError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {where}'
                    )
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) != "=":
                    if at(i) == _END:
                        raise _EntitiesError(f'Unclosed start tag "{tag}" at byte offset {where}')
                    if tag == "blockquote" and name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) == _END:
                    raise _EntitiesError(f'Unclosed start tag "{tag}" at byte offset {where}')
                if at(i) not in "'\"":
                    # A name token (letters, digits, periods, hyphens), not case sensitive.
                    token_begin = i
                    while _is_ascii_alnum(at(i)) or at(i) in ".-":
                        i += 1
                    value = _ascii_lower(markup[token_begin:i])
                    if not _is_space(at(i)) and at(i) != ">":
                        raise _EntitiesError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(markup, token_begin)}"
                        )
                else:
                    quote = markup[i]
                    i += 1
                    value_chars: list[str] = []
                    while at(i) != quote and at(i) != _END:
                        if at(i) == "&":
                            decoded = _decode_html_entity(markup, i)
                            if decoded is not None:
                                value_chars.append(chr(decoded[0]))
                                i = decoded[1]
                                continue
                        value_chars.append(markup[i])
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(value_chars)
                if at(i) == _END:
                    raise _EntitiesError(f"Unclosed start tag at byte offset {where}")
                if tag == "a" and name == "href":
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and name == "emoji-id":
                    argument = value
                elif tag == "blockquote" and name == "expandable":
                    argument = "1"
                elif tag == "tg-time" and name == "unix":
                    number = re.match(r"-?[0-9]+", value)
                    unix_time = int(number.group()) if number else 0
                elif tag == "tg-time" and name == "format":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise _EntitiesError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {where}'
                )
            nested.append((tag, argument, unix_time, length, len(out)))
            continue
        # an end tag
        if not nested:
            raise _EntitiesError(f"Unexpected end tag at byte offset {where}")
        while not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_tag = _ascii_lower(markup[begin + 2 : i])
        while _is_space(at(i)) and at(i) != _END:
            i += 1
        if at(i) != ">":
            raise _EntitiesError(f"Unclosed end tag at byte offset {where}")
        tag, argument, unix_time, offset, start = nested.pop()
        if end_tag and end_tag != tag:
            raise _EntitiesError(
                f'Unmatched end tag at byte offset {where}, expected "</{tag}>", found '
                f'"</{end_tag}>"'
            )
        if length == offset:
            continue  # an empty tag makes no entity
        size = length - offset
        last = entities[-1] if entities else None
        same_range = last is not None and (last["offset"], last["length"]) == (offset, size)
        if tag in _SIMPLE_HTML_TAGS:
            entities.append({"type": _SIMPLE_HTML_TAGS[tag], "offset": offset, "length": size})
        elif tag == "tg-emoji":
            if not re.fullmatch(r"-?[0-9]{1,19}", argument) or int(argument) == 0:
                raise _EntitiesError("Invalid custom emoji identifier specified")
            entities.append(
                {
                    "type": "custom_emoji",
                    "offset": offset,
                    "length": size,
                    "custom_emoji_id": argument,
                }
            )
        elif tag == "tg-time":
            date = _date_entity(offset, size, unix_time, argument)
            if date is not None:
                entities.append(date)
        elif tag == "a":
            link = _link_entity(offset, size, argument or "".join(out[start:]))
            if link is not None:
                entities.append(link)
        elif tag == "pre":
            # <pre><code class="language-…">: a pre block in that language.
            if last is not None and same_range and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
            else:
                entities.append({"type": "pre", "offset": offset, "length": size})
        elif tag == "code":
            if last is not None and same_range and _kind(last) == "pre" and argument:
                last["language"] = argument
            else:
                entities.append({"type": "code", "offset": offset, "length": size})
                if argument:
                    entities[-1]["language"] = argument
        else:  # blockquote
            kind = "expandable_blockquote" if argument else "blockquote"
            entities.append({"type": kind, "offset": offset, "length": size})
    if nested:
        raise _EntitiesError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            # "Programming language can't be specified for standalone code tags."
            entity.pop("language", None)
    if decoded_surrogate:
        raise _EntitiesError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    return "".join(out), sorted(entities, key=_order)


# --- MarkdownV2 and Markdown ---

_MARKDOWN_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _reserved(char: str) -> _EntitiesError:
    return _EntitiesError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _markdown_url(text: str, i: int) -> tuple[str, int]:
    """The (…) part of a MarkdownV2 link from `i` (its first character) to its ")"."""
    url: list[str] = []
    begin = i
    while i < len(text) and text[i] != ")":
        if text[i] == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            url.append(text[i + 1])
            i += 2
            continue
        url.append(text[i])
        i += 1
    if i >= len(text):
        raise _EntitiesError(f"Can't find end of a URL at byte offset {_byte_offset(text, begin)}")
    return "".join(url), i


def _parse_markdown_v2(text: str) -> tuple[str, list[_Entity]]:
    """MarkdownV2 to plain text + entities (tdlib's parse_markdown_v2): outside code, every
    one of _*[]()~`>#+-=|{}.! must be escaped with "\\" or it is refused."""
    out: list[str] = []
    length = 0
    entities: list[_Entity] = []
    # kind, argument, UTF-16 offset, index in `text`, index in `out`
    nested: list[list[Any]] = []
    have_blockquote = False
    can_start_blockquote = True

    def at(index: int) -> str:
        return text[index] if index < len(text) else _END

    def unfinished(entry: list[Any]) -> _EntitiesError:
        name = _MARKDOWN_V2_NAMES[entry[0]]
        return _EntitiesError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(text, entry[3])}"
        )

    i = -1
    while True:
        i += 1
        if i >= len(text):
            break
        char = text[i]
        if char == "\\" and 0 < ord(at(i + 1)) <= 126:
            i += 1
            length += 1
            out.append(text[i])
            if text[i] != "\r":
                can_start_blockquote = text[i] == "\n"
            continue
        reserved = "_*[]()~`>#+-=|{}.!\n"
        if nested and nested[-1][0] in ("code", "pre", "pre_code"):
            reserved = "`"
        if char not in reserved:
            length += _units(char)
            if char != "\r":
                can_start_blockquote = False
            out.append(char)
            continue
        ends = False
        if nested:
            kind = nested[-1][0]
            if have_blockquote and char == "\n" and at(i + 1) != ">":
                ends = True
            elif kind == "bold":
                ends = char == "*"
            elif kind == "italic":
                ends = char == "_" and at(i + 1) != "_"
            elif kind == "code":
                ends = char == "`"
            elif kind in ("pre", "pre_code"):
                ends = char == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif kind in ("text_link", "custom_emoji"):
                ends = char == "]"
            elif kind == "underline":
                ends = char == "_" and at(i + 1) == "_"
            elif kind == "strikethrough":
                ends = char == "~"
            elif kind == "spoiler":
                ends = char == "|" and at(i + 1) == "|"
        if not ends:
            begin = i
            argument = ""
            if char == "_":
                kind = "italic"
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
            elif char == "*":
                kind = "bold"
            elif char == "~":
                kind = "strikethrough"
            elif char == "|":
                if at(i + 1) != "|":
                    raise _reserved(char)
                i += 1
                kind = "spoiler"
            elif char == "[":
                kind = "text_link"
            elif char == "`":
                kind = "code"
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while not _is_space(at(language_end)) and at(language_end) != "`":
                        language_end += 1
                    if i != language_end and language_end < len(text) and at(language_end) != "`":
                        kind = "pre_code"
                        argument = text[i:language_end]
                        i = language_end
                    # one new line after the opening ``` is skipped
                    if at(i) in ("\n", "\r"):
                        i += 2 if at(i + 1) in ("\n", "\r") and at(i) != at(i + 1) else 1
                    i -= 1
            elif char == "!":
                if at(i + 1) != "[":
                    raise _reserved(char)
                i += 1
                kind = "custom_emoji"
            elif char == "\n":
                length += 1
                out.append("\n")
                can_start_blockquote = True
                continue
            elif char == ">":
                if not can_start_blockquote:
                    raise _reserved(char)
                if have_blockquote:
                    continue
                kind = "blockquote"
                have_blockquote = True
            else:
                raise _reserved(char)
            nested.append([kind, argument, length, begin, len(out)])
            continue
        # the end of an entity
        kind = nested[-1][0]
        if char == "\n" and kind != "blockquote":
            # "||" right before the end of a quote makes it expandable
            top = nested[-1]
            if kind != "spoiler" or not (
                top[3] == i - 2 or (top[3] == i - 3 and out and out[-1] == "\r")
            ):
                raise unfinished(top)
            nested.pop()
            if nested[-1][0] != "blockquote":
                raise unfinished(nested[-1])
            kind = "expandable_blockquote"
        _, argument, offset, _, start = nested[-1]
        entity: _Entity | None = None
        size = length - offset
        if kind in ("bold", "italic", "code", "strikethrough", "underline", "spoiler"):
            if kind in ("underline", "spoiler"):
                i += 1
            entity = {"type": kind, "offset": offset, "length": size}
        elif kind in ("pre", "pre_code"):
            i += 2
            entity = {"type": "pre", "offset": offset, "length": size}
            if argument:
                entity["language"] = argument
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[start:])
            else:
                url, i = _markdown_url(text, i + 2)
            entity = _link_entity(offset, size, url)
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise _EntitiesError("The entity must contain a tg://emoji or tg://time URL")
            url, i = _markdown_url(text, i + 2)
            entity = _tg_emoji_or_time(offset, size, url)
        else:  # a block quote ends with its line
            have_blockquote = False
            out.append(text[i])
            can_start_blockquote = True
            length += 1
            entity = {"type": kind, "offset": offset, "length": length - offset}
        if entity is not None and entity["length"] > 0:
            entities.append(entity)
        nested.pop()
    if have_blockquote:
        kind = "blockquote"
        if nested[-1][0] == "spoiler" and nested[-1][3] == len(text) - 2:
            nested.pop()
            kind = "expandable_blockquote"
        if nested[-1][0] == "blockquote":
            offset = nested.pop()[2]
            if length > offset:
                entities.append({"type": kind, "offset": offset, "length": length - offset})
    if nested:
        raise unfinished(nested[-1])
    return "".join(out), sorted(entities, key=_order)


def _tg_emoji_or_time(offset: int, length: int, url: str) -> _Entity | None:
    emoji = _tg_link_parameters(url, "emoji")
    if emoji is not None:
        emoji_id = emoji.get("id", "")
        if re.fullmatch(r"[0-9]{1,19}", emoji_id) and int(emoji_id) != 0:
            return {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": emoji_id,
            }
    time_link = _tg_link_parameters(url, "time")
    if time_link is not None and re.fullmatch(r"-?[0-9]{1,10}", time_link.get("unix", "")):
        try:
            return _date_entity(offset, length, int(time_link["unix"]), time_link.get("format", ""))
        except _EntitiesError:
            pass
    raise _EntitiesError("Invalid tg://emoji or tg://time URL specified")


def _parse_markdown(text: str) -> tuple[str, list[_Entity]]:
    """Legacy Markdown (tdlib's parse_markdown): *bold*, _italic_, `code`, ```pre```,
    [link](url); not nested, "\\" escapes only _ * ` [ outside an entity."""
    out: list[str] = []
    length = 0
    entities: list[_Entity] = []

    def at(index: int) -> str:
        return text[index] if index < len(text) else _END

    i = -1
    while True:
        i += 1
        if i >= len(text):
            break
        char = text[i]
        if char == "\\" and at(i + 1) in "_*`[" and at(i + 1) != _END:
            i += 1
            out.append(text[i])
            length += 1
            continue
        if char not in "_*`[":
            out.append(char)
            length += _units(char)
            continue
        begin = i
        end_char = "]" if char == "[" else char
        is_pre = False
        language = ""
        i += 1
        if char == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language_end = i
            while not _is_space(at(language_end)) and at(language_end) != "`":
                language_end += 1
            if i != language_end and language_end < len(text) and at(language_end) != "`":
                language = text[i:language_end]
                i = language_end
            if at(i) in ("\n", "\r"):
                i += 2 if at(i + 1) in ("\n", "\r") and at(i) != at(i + 1) else 1
        offset = length
        while i < len(text) and (
            text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            length += _units(text[i])
            out.append(text[i])
            i += 1
        if i >= len(text):
            raise _EntitiesError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        if length != offset:
            size = length - offset
            entity: _Entity | None = None
            if char == "_":
                entity = {"type": "italic", "offset": offset, "length": size}
            elif char == "*":
                entity = {"type": "bold", "offset": offset, "length": size}
            elif char == "[":
                if at(i + 1) != "(":
                    url = text[begin + 1 : i]
                else:
                    i += 2
                    url_chars: list[str] = []
                    while i < len(text) and text[i] != ")":
                        url_chars.append(text[i])
                        i += 1
                    url = "".join(url_chars)
                entity = _link_entity(offset, size, url)
            elif is_pre:
                entity = {"type": "pre", "offset": offset, "length": size}
                if language:
                    entity["language"] = language
            else:
                entity = {"type": "code", "offset": offset, "length": size}
            if entity is not None:
                entities.append(entity)
        if is_pre:
            i += 2
    return "".join(out), entities


_PARSE_MODES: dict[str, Callable[[str], tuple[str, list[_Entity]]]] = {
    "html": _parse_html,
    "markdownv2": _parse_markdown_v2,
    "markdown": _parse_markdown,
}


# --- explicit entities ---


def _json_int(item: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    value = item.get(name)
    if value is None:
        if required:
            raise ValueError(f'Can\'t find field "{name}"')
        return None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f'Field "{name}" must be a Number')
    return int(value)


def _json_str(item: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None:
        if required:
            raise ValueError(f'Can\'t find field "{name}"')
        return ""
    if not isinstance(value, str):
        raise ValueError(f'Field "{name}" must be of type String')
    return value


def _input_entity(item: Any) -> _Entity | None:
    """One MessageEntity the bot passed, as the Bot API reads it (Client::get_text_entity);
    None for the types Telegram finds by itself (mention, url, …), which it ignores."""
    if not isinstance(item, Mapping):
        raise ValueError("expected an Object")
    offset = _json_int(item, "offset")
    length = _json_int(item, "length")
    kind = _json_str(item, "type")
    if not kind:
        raise ValueError("Type is not specified")
    entity: _Entity = {"type": kind, "offset": offset, "length": length}
    if kind in _SPLITTABLE or kind in ("code", "blockquote", "expandable_blockquote"):
        return entity
    if kind == "pre":
        language = _json_str(item, "language", required=False)
        if language:
            entity["language"] = language
        return entity
    if kind == "text_link":
        entity["url"] = _json_str(item, "url")
        return entity
    if kind == "text_mention":
        user = item.get("user")
        if not isinstance(user, Mapping):
            raise ValueError('Can\'t find field "user"')
        entity["user"] = _mention(_json_int(user, "id") or 0)
        return entity
    if kind == "custom_emoji":
        entity["custom_emoji_id"] = str(_json_int(item, "custom_emoji_id"))
        return entity
    if kind == "date_time":
        entity["unix_time"] = _json_int(item, "unix_time")
        date_format = _json_str(item, "date_time_format", required=False)
        if date_format:
            entity["date_time_format"] = date_format
        return entity
    if kind in _CONTINUOUS:
        return None
    raise ValueError("Unsupported type specified")


def _input_entities(raw: Any) -> list[_Entity]:
    """The `entities`/`caption_entities` the bot passed, checked as Telegram checks them."""
    if not isinstance(raw, list):
        return []
    entities = []
    for item in raw:
        try:
            entity = _input_entity(item)
        except ValueError as error:
            raise _bad_request(f"can't parse MessageEntity: {error}") from None
        if entity is None:
            continue
        if entity["type"] == "text_link":
            url = entity["url"]
            user_id = _link_user_id(url)
            if user_id is not None:
                del entity["url"]
                entity.update(type="text_mention", user=_mention(user_id))
            else:
                try:
                    entity["url"] = _check_link(url)
                except ValueError as error:
                    raise _bad_request(f"entity URL '{url}' is invalid: {error}") from None
        elif entity["type"] == "custom_emoji" and entity["custom_emoji_id"] == "0":
            raise _bad_request("invalid custom emoji identifier specified")
        elif entity["type"] == "text_mention" and entity["user"]["id"] <= 0:
            raise _bad_request("user not found")
        entities.append(entity)
    return entities


# --- what Telegram makes of text + entities (tdlib's fix_formatted_text) ---


def _entities_valid(entities: list[_Entity]) -> bool:
    """Whether entities (sorted) already keep Telegram's nesting rules: "If two entities
    have common characters, then one of them is fully contained inside another. bold,
    italic, underline, strikethrough, and spoiler entities can contain and can be part of
    any other entities, except pre and code. blockquote and expandable_blockquote entities
    can't be nested. All other entities can't contain each other." (Bot API, Formatting
    options)."""
    ends = dict.fromkeys(_SPLITTABLE, -1)
    stack: list[_Entity] = []
    for entity in entities:
        while stack and entity["offset"] >= _end(stack[-1]):
            stack.pop()
        if stack:
            kinds = {_kind(e) for e in stack}
            types = {e["type"] for e in stack}
            if _end(entity) > _end(stack[-1]) or _kind(entity) in kinds:
                return False
            if stack[-1]["type"] in _PRE_LIKE:
                return False  # pre and code can't contain entities
            if entity["type"] in _PRE_LIKE and types - _BLOCKQUOTES:
                return False  # … nor be part of any but a block quote
            nested_kind = entity["type"] in _CONTINUOUS or entity["type"] in _BLOCKQUOTES
            if nested_kind and types & _CONTINUOUS:
                return False
            if entity["type"] in _BLOCKQUOTES and types & _BLOCKQUOTES:
                return False
            if types & set(_SPLITTABLE):
                return False  # Telegram splits and merges these anew
        if entity["type"] in _SPLITTABLE:
            if ends[entity["type"]] >= entity["offset"]:
                return False  # touching or overlapping: merged into one
            ends[entity["type"]] = _end(entity)
        stack.append(entity)
    return True


def _remove_intersecting(entities: list[_Entity]) -> list[_Entity]:
    """Keeps the first of entities that share characters, nested or not (sorted input)."""
    kept: list[_Entity] = []
    last_end = 0
    for entity in entities:
        if entity["offset"] >= last_end:
            last_end = _end(entity)
            kept.append(entity)
    return kept


def _remove_intersecting_blockquote(
    entities: list[_Entity], quotes: list[_Entity]
) -> list[_Entity]:
    """A block quote may contain other entities but not cut across them."""
    kept = []
    index = 0
    for entity in entities:
        while index < len(quotes) and _end(quotes[index]) <= entity["offset"]:
            index += 1
        if index < len(quotes):
            quote = quotes[index]
            crosses = entity["offset"] < quote["offset"] < _end(entity)
            if _end(quote) < _end(entity) or crosses:
                continue
        kept.append(entity)
    return kept


def _split_entities(splittable: list[_Entity], others: list[_Entity]) -> list[_Entity]:
    """Bold, italic, underline, strikethrough and spoiler, merged where they touch and cut
    out of every pre/code (tdlib's split_entities)."""
    begins = dict.fromkeys(_SPLITTABLE, 0)
    ends = dict.fromkeys(_SPLITTABLE, 0)
    result: list[_Entity] = []
    position = 0

    def flush(offset: int) -> None:
        for kind in _SPLITTABLE:
            if ends[kind] != 0 and begins[kind] < offset:
                if ends[kind] <= offset:
                    result.append(
                        {"type": kind, "offset": begins[kind], "length": ends[kind] - begins[kind]}
                    )
                    begins[kind] = ends[kind] = 0
                else:
                    result.append(
                        {"type": kind, "offset": begins[kind], "length": offset - begins[kind]}
                    )
                    begins[kind] = offset

    def add_entities(end_offset: int) -> None:
        nonlocal position
        while position < len(splittable) and splittable[position]["offset"] < end_offset:
            entity = splittable[position]
            kind = entity["type"]
            if entity["offset"] <= ends[kind] and ends[kind] != 0:
                ends[kind] = max(ends[kind], _end(entity))
            else:
                flush(entity["offset"])
                begins[kind], ends[kind] = entity["offset"], _end(entity)
            position += 1
        flush(end_offset)

    stack: list[_Entity] = []

    def add_offset(offset: int) -> None:
        while stack and offset >= _end(stack[-1]):
            before = len(result)
            add_entities(_end(stack[-1]))
            if stack[-1]["type"] in _PRE_LIKE:
                del result[before:]
            stack.pop()
        add_entities(offset)

    for other in others:
        add_offset(other["offset"])
        stack.append(other)
    add_offset(1 << 62)
    return sorted(result, key=_order)


def _fix_entities(entities: list[_Entity]) -> list[_Entity]:
    """Entities as Telegram stores them: what breaks the nesting rules is dropped or split,
    silently. So <code><b>x</b></code> keeps only the code, <b>a<code>b</code>c</b> turns
    into two bold pieces, and a link inside <pre> is gone; Telegram refuses none of them."""
    entities = sorted(entities, key=_order)
    if _entities_valid(entities):
        return entities
    splittable = [e for e in entities if e["type"] in _SPLITTABLE]
    quotes = [e for e in entities if e["type"] in _BLOCKQUOTES]
    others = _remove_intersecting(
        [e for e in entities if e["type"] not in _SPLITTABLE and e["type"] not in _BLOCKQUOTES]
    )
    if quotes:
        quotes = _remove_intersecting(quotes)
        others = sorted(_remove_intersecting_blockquote(others, quotes) + quotes, key=_order)
    if not splittable:
        return others
    return sorted(others + _split_entities(splittable, others), key=_order)


# Characters Telegram drops from a text: \r, U+2028–U+202E (line/paragraph separators and
# direction marks), and three combining vertical lines.
_DROPPED_CHARS = frozenset(["\r", *map(chr, range(0x2028, 0x202F)), "\u0333", "\u033f", "\u030a"])
# What counts as nothing when Telegram decides a text is empty (tdlib's is_empty_string).
_EMPTY_CHARS = frozenset(
    " \n\t\r\v\0\u00a0\u1680\u180e\u202e\u202f\u205f\u2800\u3000\ufffc\ufeff"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "".join(map(chr, range(0x200B, 0x2010)))
)


def _is_empty_text(text: str) -> bool:
    return all(c in _EMPTY_CHARS or 0xE0000 <= ord(c) <= 0xE007F for c in text)


def _clean_text(text: str, entities: list[_Entity]) -> str:
    """Telegram's clean-up of a text (control characters become spaces, \\r and a few
    invisible characters go), moving the entities with it; refuses an entity that does not
    fit the text (tdlib's clean_input_string_with_entities)."""
    stack: list[tuple[_Entity, int]] = []
    following = 0
    length = 0  # UTF-16 units read
    skipped = 0  # UTF-16 units dropped
    out: list[str] = []
    for position in range(len(text) + 1):
        while stack:
            entity, skipped_before = stack[-1]
            if length < _end(entity):
                break
            if length != _end(entity):
                raise _bad_request(
                    f"entity beginning at UTF-16 offset {entity['offset']} ends in a middle of a "
                    f"UTF-16 symbol at byte offset {_byte_offset(text, position)}"
                )
            entity["offset"] -= skipped_before
            entity["length"] -= skipped - skipped_before
            stack.pop()
        while following < len(entities) and length >= entities[following]["offset"]:
            if length != entities[following]["offset"]:
                raise _bad_request(
                    "entity begins in a middle of a UTF-16 symbol at byte offset "
                    f"{_byte_offset(text, position)}"
                )
            stack.append((entities[following], skipped))
            following += 1
        if position == len(text):
            break
        char = text[position]
        length += _units(char)
        if char in _DROPPED_CHARS:
            skipped += _units(char)
        elif ord(char) < 32 and char != "\n":
            out.append(" ")
        else:
            out.append(char)
    if following != len(entities):
        raise _bad_request(
            "entity begins after the end of the text at UTF-16 offset "
            f"{entities[following]['offset']}"
        )
    if stack:
        entity = stack[-1][0]
        raise _bad_request(
            f"entity beginning at UTF-16 offset {entity['offset']} ends after the end of the "
            f"text at UTF-16 offset {_end(entity)}"
        )
    return "".join(out)


def _fix_formatted_text(
    text: str, entities: list[_Entity], *, allow_empty: bool
) -> tuple[str, list[_Entity]]:
    """The text and entities Telegram keeps (tdlib's fix_formatted_text): entities checked
    against the text, nesting fixed, control characters cleaned, the text trimmed."""
    for entity in entities:
        if not 0 <= entity["offset"] <= 1_000_000:
            raise _bad_request(f"receive an entity with incorrect offset {entity['offset']}")
        if not 0 <= entity["length"] <= 1_000_000:
            raise _bad_request(f"receive an entity with incorrect length {entity['length']}")
    entities = _fix_entities([e for e in entities if e["length"] > 0])
    text = _clean_text(text, entities)
    entities = [e for e in entities if e["length"] > 0]
    # The last character that is neither a space nor a new line, and its last UTF-16 unit.
    last, last_unit, units = -1, -1, 0
    for index, char in enumerate(text):
        units += _units(char)
        if char not in " \n":
            last, last_unit = index, units - 1
    if last < 0 or _is_empty_text(text):
        if allow_empty:
            return "", []
        raise _bad_request("text must be non-empty")
    entities = _fix_entities(entities)
    # Trailing spaces and new lines go; entities stop at the last character left.
    text = text[: last + 1]
    trimmed = []
    for entity in entities:
        if entity["offset"] > last_unit:
            continue
        entity["length"] = min(entity["length"], last_unit + 1 - entity["offset"])
        trimmed.append(entity)
    entities = sorted(trimmed, key=_order)
    # Leading ones go too, up to the first entity.
    first = entities[0]["offset"] if entities else len(text)
    lead = 0
    while lead < first and lead < len(text) and text[lead] in " \n":
        lead += 1
    if lead:
        text = text[lead:]
        for entity in entities:
            entity["offset"] -= lead
    return text, entities


def _decode_form_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    """The inline keyboard a message keeps; Telegram drops reply keyboards from the message."""
    if not isinstance(markup, Mapping) or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        raise _bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not button.get("text"):
                raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = [name for name in _BUTTON_ACTIONS if name in button]
            if not actions:
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise _bad_request(
                    "can't parse inline keyboard button: only one of the optional fields must "
                    "be used"
                )
            data = button.get("callback_data")
            if data is not None and not 0 < len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
    if not any(rows):
        # An empty keyboard is how a bot removes the one a message has.
        return None
    return {"inline_keyboard": copy.deepcopy(rows)}


# "The photo must be at most 10 MB in size. The photo's width and height must not exceed
# 10000 in total. Width and height ratio must be at most 20." (Bot API, sendPhoto)
MAX_PHOTO_BYTES = 10 * 1024 * 1024
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


def _picture_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's or a GIF's header; None when the stand-in can't tell."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR":
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content.startswith((b"GIF87a", b"GIF89a")) and len(content) >= 10:
        return int.from_bytes(content[6:8], "little"), int.from_bytes(content[8:10], "little")
    return None


def _check_photo(content: bytes) -> tuple[int, int]:
    """The photo's width and height, or Telegram's refusal of it: an empty file, one over
    10 MB, one that is not a JPEG, PNG, GIF or WebP picture, or one of a shape Telegram
    does not take."""
    if not content:
        raise _bad_request("file must be non-empty")
    if len(content) > MAX_PHOTO_BYTES:
        raise _bad_request(
            f"file of size {len(content)} bytes is too big for a photo; the maximum size is "
            f"{MAX_PHOTO_BYTES} bytes"
        )
    is_webp = content.startswith(b"RIFF") and content[8:12] == b"WEBP"
    if not content.startswith(_IMAGE_MAGIC) and not is_webp:
        raise _bad_request("IMAGE_PROCESS_FAILED")
    size = _picture_size(content)
    if size is None:
        return 1000, 530  # a shape the stand-in does not read (JPEG, WebP)
    width, height = size
    if (
        not width
        or not height
        or width + height > 10000
        or max(width, height) > 20 * min(width, height)
    ):
        raise _bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


class TelegramStub:
    """An aiohttp app that answers like api.telegram.org for one bot token and records every call.

    Bot API methods live at `{base_url}/bot{token}/{method}`, file downloads at
    `{base_url}/file/bot{token}/{file_path}` — the layout of `TelegramAPIServer.from_base`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_poll_wait: float = 1.0,
        callback_query_ttl: float = 15.0,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        # Long polls wait at most this long even if the bot asks for more, so a test that
        # stops polling never waits for a 10-30 s request to run out.
        self.max_poll_wait = max_poll_wait
        # How long a pressed button waits for answerCallbackQuery before Telegram refuses the
        # answer as too old (Telegram does not publish the figure; it is seconds, not minutes).
        self.callback_query_ttl = callback_query_ttl
        self.calls: list[Call] = []
        self.unauthorized_requests: list[str] = []
        self.pushed_at: dict[int, float] = {}
        self.bot_user: dict[str, Any] = {
            "id": int(token.partition(":")[0]),
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }
        self._pending: list[dict[str, Any]] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        # Pressed buttons not answered yet: query id -> when pressed (time.monotonic()).
        self._open_callback_queries: dict[str, float] = {}
        # People who wrote to the bot (or pressed Start): only they can be written to.
        self.started_chats: set[int] = set()
        # Chats with a message in them: Telegram knows them (setMyCommands' scope).
        self._seen_chats: set[int] = set()
        # Messages sent through the bot's inline mode, by inline_message_id.
        self._inline_messages: dict[str, dict[str, Any]] = {}
        # Updates the bot asked not to get (allowed_updates), never queued.
        self.filtered_updates: list[dict[str, Any]] = []
        self._allowed_updates: frozenset[str] | None = None
        self._last_update_id = 0
        self._last_file_number = 0
        self._last_callback_number = 0
        self._poll_generation = 0
        # Long polls waiting for an update right now (a test can push into one).
        self.waiting_polls = 0
        self._closing = False
        # Chats whose person blocked the bot (or never started it): sending there gets a 403.
        self.blocked_chats: set[int] = set()
        # Faults to inject: planned ones per method, and a random share of all calls.
        self._planned_faults: dict[str, list[tuple[Fault, int | None]]] = {}
        self._random_faults: tuple[float, random.Random, tuple[Fault, ...], frozenset[str]] | None
        self._random_faults = None
        self.faults_injected: list[tuple[str, Fault]] = []
        # Flood control, as Telegram keeps it: after a 429 with retry_after, a call to the same
        # chat (a call without a chat: the same call again) before the time is up gets another
        # 429, and is a violation that fails the test when the stand-in stops.
        self._flood_until: dict[str, float] = {}
        self.flood_violations: list[Call] = []
        # Telegram's sending rates (about 30 messages a second in all, about one a second per
        # chat with short bursts), for load tests: switch_on_rate_limits().
        self._rates: _SendingRates | None = None
        # Events are replaced after being set: whoever waits grabs the current one, so one
        # set() wakes exactly the waiters that were there before the change.
        self._updates_changed = asyncio.Event()
        self._call_recorded = asyncio.Event()
        self._runner: web.AppRunner | None = None
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._true,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "getFile": self._get_file,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._true,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._true,
            "setMyShortDescription": self._true,
            "setChatMenuButton": self._true,
            "close": self._true,
            "logOut": self._true,
        }
        # Telegram matches method names case-insensitively; calls are recorded by canonical name.
        self._methods = {name.lower(): handler for name, handler in handlers.items()}
        self._canonical_names = {name.lower(): name for name in handlers}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        # Bots may upload up to 50 MB; aiohttp's default body limit is 1 MiB.
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is None:
            return
        # A long poll whose client is already gone still holds the server; wake it up.
        self._closing = True
        self._wake_pollers()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
        if exc_type is None and self.flood_violations:
            raise AssertionError(
                "the bot called Telegram before the retry_after it was given had passed: "
                + "; ".join(f"{c.method} {c.error}" for c in self.flood_violations[:5])
            )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- what tests push in ------------------------------------------------------------------

    def user_object(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User {user_id}",
            "username": f"user{user_id}",
            "language_code": "ru",
        }

    def chat_object(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}

    def open_chat(self, user_id: int) -> None:
        """The person pressed Start some time ago: the bot may write to them."""
        self.started_chats.add(user_id)

    def push_update(self, raw: Mapping[str, Any]) -> int:
        """Queue any update (e.g. an `edited_message`); its `update_id` is assigned here.

        Like Telegram, an update of a type the bot excluded with `allowed_updates` is never
        delivered (it lands in `filtered_updates`)."""
        self._last_update_id += 1
        update = {**copy.deepcopy(dict(raw)), "update_id": self._last_update_id}
        kind = next(key for key in update if key != "update_id")
        allowed = self._allowed_updates
        if (kind not in allowed) if allowed is not None else (kind in _NOT_SENT_BY_DEFAULT):
            self.filtered_updates.append(update)
            return self._last_update_id
        self._pending.append(update)
        self.pushed_at[self._last_update_id] = time.monotonic()
        self._wake_pollers()
        return self._last_update_id

    def message_from(self, user_id: int, **content: Any) -> dict[str, Any]:
        """A message the person writes (text with `entities`, say), stored in the chat, to
        push as an update of one's own making."""
        return self._user_message(user_id, **content)

    def push_text(self, user_id: int, text: str) -> int:
        message = self._user_message(user_id, text=text)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_length(command)}
            ]
        return self.push_update({"message": message})

    def push_sticker(self, user_id: int) -> int:
        file = self._register(b"RIFF-stub-webp", "sticker.webp", "stickers", "image/webp")
        sticker = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
            "file_size": len(file.content),
        }
        return self.push_update({"message": self._user_message(user_id, sticker=sticker)})

    def push_photo(self, user_id: int, caption: str | None = None) -> int:
        file = self._register(b"\xff\xd8\xff-stub-jpeg", "photo.jpg", "photos", "image/jpeg")
        size = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "width": 90,
            "height": 90,
            "file_size": len(file.content),
        }
        content: dict[str, Any] = {"photo": [size]}
        if caption is not None:
            content["caption"] = caption
        return self.push_update({"message": self._user_message(user_id, **content)})

    def push_document(
        self, user_id: int, content: bytes, file_name: str, caption: str | None = None
    ) -> int:
        file = self._files[self.add_file(content, file_name)]
        fields: dict[str, Any] = {"document": file.as_document()}
        if caption is not None:
            fields["caption"] = caption
        return self.push_update({"message": self._user_message(user_id, **fields)})

    def push_voice(self, user_id: int, duration: int = 3) -> int:
        file = self._register(b"OggS-stub-opus", "voice.oga", "voice", "audio/ogg")
        voice = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "duration": duration,
            "mime_type": file.mime_type,
            "file_size": len(file.content),
        }
        return self.push_update({"message": self._user_message(user_id, voice=voice)})

    def push_callback(self, user_id: int, message_id: int, data: str, age: float = 0.0) -> str:
        """Press a button under message `message_id` in the user's chat; returns the query id.

        `age`: the press happened that many seconds ago (say, while the bot was down), so its
        answer may already be too old."""
        stored = self._messages.get((user_id, message_id))
        if stored is not None:
            message = copy.deepcopy(stored)
        else:
            # What Telegram sends for a message the bot can no longer see (e.g. deleted).
            message = {"chat": self.chat_object(user_id), "message_id": message_id, "date": 0}
        self._last_callback_number += 1
        query_id = f"{user_id}{self._last_callback_number:06d}"
        self._open_callback_queries[query_id] = time.monotonic() - age
        self.started_chats.add(user_id)
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user_object(user_id),
                    "chat_instance": f"-{user_id}",
                    "message": message,
                    "data": data,
                }
            }
        )
        return query_id

    def add_inline_message(self, text: str, reply_markup: Mapping[str, Any] | None = None) -> str:
        """A message a person sent through the bot's inline mode (the chosen_inline_result,
        or a press of a button under it, brings its id); returns its inline_message_id, by
        which the bot may edit it."""
        inline_message_id = f"AgAAAH{len(self._inline_messages) + 1:06d}stub-inline"
        message: dict[str, Any] = {"text": text}
        markup = _inline_markup(reply_markup)
        if markup is not None:
            message["reply_markup"] = markup
        self._inline_messages[inline_message_id] = message
        return inline_message_id

    def inline_message(self, inline_message_id: str) -> dict[str, Any]:
        """The current state of an inline message (after edits); KeyError if unknown."""
        return copy.deepcopy(self._inline_messages[inline_message_id])

    def add_file(self, content: bytes, file_name: str, mime_type: str | None = None) -> str:
        """Make a file downloadable through getFile; returns its file_id."""
        guessed = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        return self._register(content, file_name, "documents", guessed).file_id

    # --- faults ------------------------------------------------------------------------------

    def fail_next(
        self, method: str, fault: Fault, times: int = 1, chat_id: int | None = None
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) meet `fault`."""
        planned = self._planned_faults.setdefault(method.lower(), [])
        planned.extend([(fault, chat_id)] * times)

    def switch_on_rate_limits(self, per_second: float = 30.0, per_chat: float = 1.0) -> None:
        """From now on, messages over Telegram's sending rates get a 429 (that is not a
        violation; calling again before its retry_after is)."""
        self._rates = _SendingRates(per_second, per_chat)

    def fail_randomly(
        self,
        share: float,
        faults: tuple[Fault, ...],
        seed: int = 0,
        spare: frozenset[str] = frozenset({"getUpdates", "getMe"}),
    ) -> None:
        """From now on each call (but those in `spare`) meets one of `faults` with `share`
        probability; share 0 stops it."""
        self._random_faults = (
            (share, random.Random(seed), faults, frozenset(m.lower() for m in spare))
            if share > 0
            else None
        )

    def clear_faults(self) -> None:
        """Forget the planned faults no call has met yet."""
        self._planned_faults.clear()

    @property
    def planned_faults_left(self) -> list[tuple[str, Fault]]:
        """Planned faults no call has met yet: a test that plans one expects it to strike."""
        return [(m, f) for m, planned in self._planned_faults.items() for f, _ in planned]

    def _take_fault(self, method: str, params: Mapping[str, Any]) -> Fault | None:
        planned = self._planned_faults.get(method.lower(), [])
        fault = None
        for position, (candidate, chat_id) in enumerate(planned):
            if chat_id is None or str(params.get("chat_id")) == str(chat_id):
                fault = candidate
                del planned[position]
                break
        if fault is None and self._random_faults is not None:
            share, rng, choices, spare = self._random_faults
            if method.lower() not in spare and rng.random() < share:
                fault = rng.choice(choices)
        if fault is not None:
            self.faults_injected.append((method, fault))
        return fault

    # --- what tests read back ----------------------------------------------------------------

    def mark(self) -> int:
        return len(self.calls)

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The current state of a stored message (after edits); KeyError if unknown or deleted."""
        return copy.deepcopy(self._messages[(chat_id, message_id)])

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates pushed but not yet confirmed by a getUpdates offset."""
        return copy.deepcopy(self._pending)

    @staticmethod
    def buttons(source: Call | Mapping[str, Any]) -> list[tuple[str, str]]:
        """(text, callback_data) of each inline button, row by row; url buttons give their url.

        `source` is a recorded call (its `reply_markup` parameter) or a message dict.
        """
        container = source.params if isinstance(source, Call) else source
        markup = container.get("reply_markup")
        if not isinstance(markup, Mapping):
            return []
        return [
            (str(button.get("text", "")), str(button.get("callback_data") or button.get("url", "")))
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> Call:
        """The first call of `method` with index >= `after` that satisfies `predicate`."""

        def matches(call: Call) -> bool:
            return call.method.lower() == method.lower() and (predicate is None or predicate(call))

        return await self._wait(matches, f"{method} call", timeout, after)

    async def wait_for_reply(self, user_id: int, after: int = 0, timeout: float = 10.0) -> Call:
        """The next successful sendMessage/editMessageText/sendDocument to the user's chat."""

        def matches(call: Call) -> bool:
            return (
                call.method in REPLY_METHODS
                # A call whose answer was lost on the way back still reached the chat.
                and (call.error is None or call.result is not None)
                and str(call.params.get("chat_id")) == str(user_id)
            )

        return await self._wait(matches, f"reply to chat {user_id}", timeout, after)

    # --- waiting -----------------------------------------------------------------------------

    async def _wait(
        self, matches: Callable[[Call], bool], what: str, timeout: float, after: int
    ) -> Call:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = after
        while True:
            while index < len(self.calls):
                call = self.calls[index]
                index += 1
                if matches(call):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._describe_timeout(what, timeout, after))
            recorded = self._call_recorded
            try:
                await asyncio.wait_for(recorded.wait(), remaining)
            except TimeoutError:
                continue

    def _describe_timeout(self, what: str, timeout: float, after: int) -> str:
        lines = [f"no {what} within {timeout:g} s (looking from call #{after}); recorded calls:"]
        polls = 0
        for index, call in enumerate(self.calls):
            # Idle long polls would drown the calls that explain the failure.
            if call.method == "getUpdates" and not call.result and call.error is None:
                polls += 1
                continue
            params = {key: value for key, value in call.params.items() if key != "reply_markup"}
            outcome = f" -> ERROR {call.error}" if call.error else ""
            keyboard = self.buttons(call)
            extra = f" buttons={keyboard}" if keyboard else ""
            lines.append(f"  #{index} {call.method} {params}{extra}{outcome}")
        lines.append(f"  (+{polls} empty getUpdates)")
        if self.unauthorized_requests:
            lines.append(f"  rejected with 401: {self.unauthorized_requests}")
        return "\n".join(lines)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        recorded, self._call_recorded = self._call_recorded, asyncio.Event()
        recorded.set()

    def _wake_pollers(self) -> None:
        changed, self._updates_changed = self._updates_changed, asyncio.Event()
        changed.set()

    # --- HTTP --------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        raw_method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.unauthorized_requests.append(raw_method)
            return self._error_response(TelegramApiError(401, "Unauthorized"))
        method = self._canonical_names.get(raw_method.lower(), raw_method)
        handler = self._methods.get(method.lower())
        params: dict[str, Any] = {}
        fault: Fault | None = None
        try:
            params = await self._read_params(request)
            refused = self._flood_refusal(method, params)
            if refused is not None:
                return refused
            fault = self._take_fault(method, params)
            if fault is not None and fault.kind != "drop_after":
                early = await self._inject(request, method, params, fault)
                if early is not None:
                    return early
            if handler is None:
                raise TelegramApiError(404, "Not Found: method not found")
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
            if fault is not None and fault.kind == "drop_after":
                self._record(
                    Call(
                        method,
                        params,
                        time.monotonic(),
                        result=copy.deepcopy(result),
                        error=f"{FAULT_PREFIX}connection dropped after the call",
                    )
                )
                return self._drop(request)
        except TelegramApiError as error:
            self._record(Call(method, params, time.monotonic(), error=error.description))
            return self._error_response(error)
        except Exception as error:
            # A bug in the stub must reach the test as an API error, not kill the server.
            description = f"Internal Server Error: stub failed: {type(error).__name__}: {error}"
            self._record(Call(method, params, time.monotonic(), error=description))
            return self._error_response(TelegramApiError(500, description))
        # A snapshot: later edits must not rewrite what the bot was answered back then.
        self._record(Call(method, params, time.monotonic(), result=copy.deepcopy(result)))
        return web.json_response({"ok": True, "result": result})

    async def _inject(
        self, request: web.Request, method: str, params: dict[str, Any], fault: Fault
    ) -> web.Response | None:
        """Carry out a fault that strikes before the call; None lets the call go on."""
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return None
        now = time.monotonic()
        if fault.kind == "retry_after":
            retry = max(1, int(fault.seconds))
            self._flood_until[_flood_key(method, params)] = now + retry
            self._record(Call(method, params, now, error=f"{FAULT_PREFIX}{_too_many(retry)}"))
            return _too_many_response(retry)
        if fault.kind == "server_error":
            self._record(Call(method, params, now, error=f"{FAULT_PREFIX}Internal Server Error"))
            return self._error_response(TelegramApiError(500, "Internal Server Error"))
        if fault.kind == "bad_gateway":
            self._record(Call(method, params, now, error=f"{FAULT_PREFIX}502 Bad Gateway"))
            return web.Response(
                status=502,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        if fault.kind == "bad_request":
            raise _bad_request(fault.description or "fault")
        if fault.kind == "drop_before":
            self._record(
                Call(method, params, now, error=f"{FAULT_PREFIX}connection dropped before the call")
            )
            return self._drop(request)
        raise ValueError(f"unknown fault {fault.kind!r}")

    def _flood_refusal(self, method: str, params: dict[str, Any]) -> web.Response | None:
        """A 429 for a call made while Telegram's flood control holds its chat (or, with the
        rates on, one over Telegram's sending rates); None lets the call go on."""
        now = time.monotonic()
        key = _flood_key(method, params)
        until = self._flood_until.get(key, 0.0)
        if now < until:
            retry = max(1, math.ceil(until - now))
            call = Call(method, params, now, error=f"{FLOOD_VIOLATION}{_too_many(retry)}")
            self.flood_violations.append(call)
            self._record(call)
            return _too_many_response(retry)
        if self._rates is not None and method in _MESSAGE_SENDS:
            retry = self._rates.take(str(params.get("chat_id")), now)
            if retry:
                self._flood_until[key] = now + retry
                self._record(Call(method, params, now, error=f"rate: {_too_many(retry)}"))
                return _too_many_response(retry)
        return None

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        # Closing the socket under the response: the client sees the connection go away.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            self.unauthorized_requests.append("file")
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        file = self._files_by_path.get(path)
        params = {"file_path": path}
        if file is None:
            self._record(Call("downloadFile", params, time.monotonic(), error="Not Found"))
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        self._record(Call("downloadFile", params, time.monotonic(), result=len(file.content)))
        return web.Response(body=file.content, content_type=file.mime_type)

    @staticmethod
    def _error_response(error: TelegramApiError) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": error.error_code, "description": error.description},
            status=error.error_code,
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        """Query string + form/multipart/JSON body, with JSON-encoded values decoded."""
        params: dict[str, Any] = {
            key: _decode_form_value(key, value) for key, value in request.query.items()
        }
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
            return params
        uploads: dict[str, web.FileField] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                uploads[key] = value
            else:
                params[key] = _decode_form_value(key, str(value))
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                upload = uploads.pop(value.removeprefix("attach://"), None)
                if upload is not None:
                    params[key] = self._store_upload(upload)
        # Some clients post the file under the parameter name itself instead of attach://.
        for key, upload in uploads.items():
            params.setdefault(key, self._store_upload(upload))
        return params

    def _store_upload(self, upload: web.FileField) -> StoredFile:
        content = upload.file.read()
        mime_type = upload.content_type or "application/octet-stream"
        if mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(upload.filename)[0] or mime_type
        return self._register(content, upload.filename, "documents", mime_type)

    # --- state -------------------------------------------------------------------------------

    def _register(self, content: bytes, file_name: str, folder: str, mime_type: str) -> StoredFile:
        self._last_file_number += 1
        number = self._last_file_number
        suffix = file_name.rpartition(".")[2] if "." in file_name else "bin"
        file = StoredFile(
            file_id=f"BQACAgIAAxkBAAI{number:06d}stub",
            file_unique_id=f"AgAD{number:06d}",
            file_name=file_name,
            file_path=f"{folder}/file_{number}.{suffix}",
            mime_type=mime_type,
            content=content,
        )
        self._files[file.file_id] = file
        self._files_by_path[file.file_path] = file
        return file

    def _next_message_id(self, chat_id: int) -> int:
        # In a private chat the user's and the bot's messages share one numbering.
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store_message(
        self, chat_id: int, sender: dict[str, Any], **content: Any
    ) -> dict[str, Any]:
        message_id = self._next_message_id(chat_id)
        message = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": self.chat_object(chat_id),
            "date": int(time.time()),
            **{key: value for key, value in content.items() if value is not None},
        }
        self._messages[(chat_id, message_id)] = message
        self._seen_chats.add(chat_id)
        return message

    def _user_message(self, user_id: int, **content: Any) -> dict[str, Any]:
        # Writing to the bot starts the chat: from now on the bot may write back.
        self.started_chats.add(user_id)
        return copy.deepcopy(self._store_message(user_id, self.user_object(user_id), **content))

    def _find_message(self, params: Mapping[str, Any], missing: str) -> dict[str, Any]:
        key = (self._chat_id(params), self._int_param(params, "message_id"))
        message = self._messages.get(key)
        if message is None:
            raise _bad_request(missing)
        return message

    @staticmethod
    def _chat_id(params: Mapping[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        return chat_id

    @staticmethod
    def _int_param(params: Mapping[str, Any], name: str) -> int:
        value = params.get(name)
        if not isinstance(value, int):
            raise _bad_request(f"{name} is invalid or missing")
        return value

    @staticmethod
    def _formatted(
        params: Mapping[str, Any], text_key: str, entities_key: str, limit: int
    ) -> tuple[str, list[dict[str, Any]]]:
        """Text and entities as Telegram keeps them, or Telegram's refusal.

        With a parse_mode (HTML, MarkdownV2, Markdown; any other is refused) the markup is
        parsed and `entities` are ignored; without one, `entities` are checked against the
        text (offsets and lengths in UTF-16 code units). Then the nesting is fixed, control
        characters cleaned, the text trimmed, and its length checked: a message may have 4096
        characters, a caption 1024, counted in code points of what is left ("1-4096
        characters after entities parsing"; tdlib's utf8_length, so 4096 emoji pass, though
        they are 8192 UTF-16 units).
        """
        raw = params.get(text_key)
        text = "" if raw is None else str(raw)
        if len(text.encode()) > 1 << 15:
            raise _bad_request("text is too long")
        mode = str(params.get("parse_mode") or "").lower()
        entities: list[dict[str, Any]]
        if text and mode not in ("", "none"):
            parse = _PARSE_MODES.get(mode)
            if parse is None:
                raise _bad_request("unsupported parse_mode")
            try:
                text, entities = parse(text)
            except _EntitiesError as error:
                raise _bad_request(f"can't parse entities: {error}") from None
        else:
            entities = _input_entities(params.get(entities_key))
        text, entities = _fix_formatted_text(text, entities, allow_empty=text_key != "text")
        if len(text) > limit:
            reason = "message is too long" if text_key == "text" else "message caption is too long"
            raise _bad_request(reason)
        return text, entities

    def _knows_chat(self, chat_id: Any) -> bool:
        """Whether Telegram would find the chat for this bot: a person who started it, or a
        chat it has a message in (the stand-in has no other idea of group membership)."""
        if isinstance(chat_id, str) and re.fullmatch(r"-?[0-9]+", chat_id):
            chat_id = int(chat_id)
        if not isinstance(chat_id, int):
            return False
        return chat_id in self.started_chats or chat_id in self._seen_chats

    # --- Bot API methods ---------------------------------------------------------------------

    @staticmethod
    def _true(params: dict[str, Any]) -> bool:
        return True

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            # Remembered until changed; an empty list means "the default types".
            self._allowed_updates = frozenset(allowed) if allowed else None
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            # An offset confirms every update before it: Telegram never sends those again.
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._pending = self._pending[offset:]
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout")
        self._poll_generation += 1
        generation = self._poll_generation
        # Only one long poll per bot: like Telegram, a newer one ends the older with 409.
        self._wake_pollers()
        if not self._pending and isinstance(timeout, int | float) and timeout > 0:
            self.waiting_polls += 1
            try:
                await self._long_poll(float(timeout), generation)
            finally:
                self.waiting_polls -= 1
        return copy.deepcopy(self._pending[:limit])

    async def _long_poll(self, timeout: float, generation: int) -> None:
        deadline = asyncio.get_running_loop().time() + min(timeout, self.max_poll_wait)
        while not self._pending and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            changed = self._updates_changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return
            if generation != self._poll_generation:
                raise TelegramApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )

    def _check_can_write(self, chat_id: int) -> None:
        if chat_id in self.blocked_chats:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id > 0 and chat_id not in self.started_chats:
            raise TelegramApiError(403, "Forbidden: bot can't initiate conversation with a user")

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_can_write(chat_id)
        if not params.get("text"):
            raise _bad_request("message text is empty")
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH)
        markup = _inline_markup(params.get("reply_markup"))
        message = self._store_message(
            chat_id,
            self.bot_user,
            text=text,
            entities=entities or None,
            reply_markup=markup,
            reply_to_message=self._replied_message(chat_id, params),
        )
        return copy.deepcopy(message)

    def _replied_message(self, chat_id: int, params: Mapping[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, Mapping) else None
        if message_id is None:
            message_id = params.get("reply_to_message_id")
        if not isinstance(message_id, int):
            return None
        replied = self._messages.get((chat_id, message_id))
        if replied is None:
            raise _bad_request("message to be replied not found")
        return {key: value for key, value in replied.items() if key != "reply_to_message"}

    def _edit_target(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The message an edit is for, and whether it is an inline one (sent through the
        bot's inline mode: an edit of it is answered True, not with the message).

        As in the Bot API, an edit without chat_id and message_id is one by
        inline_message_id; an id Telegram never gave out is refused."""
        if params.get("chat_id") in (None, "") and not params.get("message_id"):
            inline_message_id = str(params.get("inline_message_id") or "")
            if not inline_message_id:
                raise _bad_request("message identifier is not specified")
            inline = self._inline_messages.get(inline_message_id)
            if inline is None:
                raise _bad_request("MESSAGE_ID_INVALID")
            return inline, True
        message = self._find_message(params, "message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return message, False

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if not params.get("text"):
            raise _bad_request("message text is empty")
        message, inline = self._edit_target(params)
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH)
        # Editing the text without reply_markup removes the inline keyboard, as in Telegram.
        markup = _inline_markup(params.get("reply_markup"))
        unchanged = (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        )
        if unchanged:
            raise self._not_modified()
        message["text"] = text
        self._set_optional(message, "entities", entities or None)
        self._set_optional(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        return True if inline else copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        message, inline = self._edit_target(params)
        markup = _inline_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise self._not_modified()
        self._set_optional(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        return True if inline else copy.deepcopy(message)

    @staticmethod
    def _not_modified() -> TelegramApiError:
        return _bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    @staticmethod
    def _set_optional(message: dict[str, Any], key: str, value: Any) -> None:
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        pressed = self._open_callback_queries.pop(query_id, None)
        if pressed is None or time.monotonic() - pressed > self.callback_query_ttl:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            self._open_callback_queries[query_id] = pressed
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    def _check_command_scope(self, params: Mapping[str, Any]) -> None:
        """The `scope` of setMyCommands/deleteMyCommands, refused as the Bot API refuses it
        (Client::get_bot_command_scope, check_bot_command_scope): a scope of one chat needs a
        chat Telegram knows ("chat not found" for a person who never started the bot), and
        chat_administrators or chat_member make no sense in a private chat."""
        scope = params.get("scope")
        if scope is None or scope == "":
            return  # the default scope
        if not isinstance(scope, Mapping):
            raise _bad_request("can't parse BotCommandScope: BotCommandScope must be an Object")
        kind = scope.get("type")
        if not isinstance(kind, str):
            raise _bad_request("can't parse BotCommandScope: Can't find field \"type\"")
        if kind in _COMMAND_SCOPES_OF_ALL:
            return
        if kind not in ("chat", "chat_administrators", "chat_member"):
            raise _bad_request("can't parse BotCommandScope: Unsupported type specified")
        chat_id = scope.get("chat_id")
        if chat_id is None:
            raise _bad_request("can't parse BotCommandScope: Can't find field \"chat_id\"")
        if chat_id == "":
            raise _bad_request("can't parse BotCommandScope: Empty chat_id specified")
        if kind == "chat_member":
            user_id = scope.get("user_id")
            if user_id is None:
                raise _bad_request("can't parse BotCommandScope: Can't find field \"user_id\"")
            if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
                raise _bad_request("can't parse BotCommandScope: Invalid user_id specified")
        if not self._knows_chat(chat_id):
            raise _bad_request("chat not found")
        if kind != "chat" and int(chat_id) > 0:
            raise _bad_request("can't use specified scope in private chats")

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self._check_command_scope(params)
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("commands must be an Array")
        self._check_command_scope(params)
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, Mapping) or not _COMMAND.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "").strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        return True

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_can_write(chat_id)
        document = params.get("document")
        if isinstance(document, StoredFile) and not document.content:
            # An upload Telegram gets empty (tdlib's check of a local file).
            raise _bad_request("file must be non-empty")
        if isinstance(document, str) and document in self._files:
            document = self._files[document]
        elif isinstance(document, str) and document.startswith(("http://", "https://")):
            name = document.rsplit("/", 1)[-1] or "file"
            document = self._register(b"", name, "documents", "application/octet-stream")
        if not isinstance(document, StoredFile):
            raise _bad_request("wrong file identifier/HTTP URL specified")
        caption, caption_entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH
        )
        message = self._store_message(
            chat_id,
            self.bot_user,
            document=document.as_document(),
            caption=caption or None,
            caption_entities=caption_entities or None,
            reply_markup=_inline_markup(params.get("reply_markup")),
            reply_to_message=self._replied_message(chat_id, params),
        )
        return copy.deepcopy(message)

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_can_write(chat_id)
        photo = params.get("photo")
        if not isinstance(photo, StoredFile):
            raise _bad_request("wrong file identifier/HTTP URL specified")
        width, height = _check_photo(photo.content)
        caption, caption_entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH
        )
        size = {
            "file_id": photo.file_id,
            "file_unique_id": photo.file_unique_id,
            "width": width,
            "height": height,
            "file_size": len(photo.content),
        }
        message = self._store_message(
            chat_id,
            self.bot_user,
            photo=[size],
            caption=caption or None,
            caption_entities=caption_entities or None,
            reply_markup=_inline_markup(params.get("reply_markup")),
            reply_to_message=self._replied_message(chat_id, params),
        )
        return copy.deepcopy(message)

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self._files.get(str(params.get("file_id") or ""))
        if file is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": len(file.content),
            "file_path": file.file_path,
        }

    def _delete_message(self, params: dict[str, Any]) -> bool:
        key = (self._chat_id(params), self._int_param(params, "message_id"))
        if self._messages.pop(key, None) is None:
            raise _bad_request("message to delete not found")
        return True
