"""A local stand-in of the Telegram Bot API that e2e tests and the load benchmark poll."""

from __future__ import annotations

import asyncio
import copy
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

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


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


def _utf16_length(text: str) -> int:
    # Telegram measures offsets and lengths in UTF-16 code units, not code points.
    return len(text.encode("utf-16-le")) // 2


# The only named entities Telegram decodes; any other "&name;" stays as it is written.
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_ATTRIBUTE = re.compile(
    r"""\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+)))?"""
)


def _decode_entity(markup: str, position: int) -> tuple[str, int] | None:
    """The character an entity at `position` stands for and where it ends, if Telegram
    decodes it: numeric entities and &lt; &gt; &amp; &quot; only."""
    found = _ENTITY.match(markup, position)
    if found is None:
        return None
    decimal, hexadecimal, name = found.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return None if char is None else (char, found.end())
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), found.end()


def _decode_entities(value: str) -> str:
    out, position = [], 0
    while position < len(value):
        decoded = _decode_entity(value, position) if value[position] == "&" else None
        if decoded is None:
            out.append(value[position])
            position += 1
        else:
            out.append(decoded[0])
            position = decoded[1]
    return "".join(out)


class _TelegramHtml:
    """Telegram-flavoured HTML to plain text + entities, refusing what Telegram refuses.

    Modelled on Telegram's own parser rather than a browser's: every "<" must open or close a
    supported tag (so an unescaped «Ошибка <403>» or a comment is refused), only the four
    named entities above and numeric ones are decoded, and a stray "&" or ">" is plain text.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, int, dict[str, str]]] = []

    def parse(self, markup: str) -> tuple[str, list[dict[str, Any]]]:
        position = 0
        while position < len(markup):
            char = markup[position]
            if char == "&":
                decoded = _decode_entity(markup, position)
                if decoded is not None:
                    self._text(decoded[0])
                    position = decoded[1]
                    continue
            if char != "<":
                self._text(char)
                position += 1
                continue
            offset = len(markup[:position].encode())
            if markup.startswith("</", position):
                position = self._end_tag(markup, position, offset)
            else:
                position = self._start_tag(markup, position, offset)
        if self._open:
            tag = self._open[-1][0]
            raise _bad_request(
                f"can't parse entities: Can't find end tag corresponding to start tag \"{tag}\""
            )
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities

    def _text(self, text: str) -> None:
        self.parts.append(text)
        self.length += _utf16_length(text)

    def _start_tag(self, markup: str, position: int, offset: int) -> int:
        end_of_name = position + 1
        while end_of_name < len(markup) and markup[end_of_name] not in " \t\r\n>/":
            end_of_name += 1
        tag = markup[position + 1 : end_of_name].lower()
        if tag not in _HTML_ENTITY_TYPES:
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {offset}'
            )
        attributes: dict[str, str] = {}
        cursor = end_of_name
        while True:
            found = _ATTRIBUTE.match(markup, cursor)
            if found is None:
                break
            name, double, single, bare = found.groups()
            value = next((v for v in (double, single, bare) if v is not None), "")
            attributes[name.lower()] = _decode_entities(value)
            cursor = found.end()
        rest = markup[cursor:].lstrip()
        cursor = len(markup) - len(rest)
        if rest.startswith("/"):
            rest, cursor = rest[1:], cursor + 1
        if not rest.startswith(">"):
            raise _bad_request(f"can't parse entities: Unclosed start tag at byte offset {offset}")
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise _bad_request(
                f'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset '
                f"{offset}"
            )
        self._open.append((tag, self.length, attributes))
        return cursor + 1

    def _end_tag(self, markup: str, position: int, offset: int) -> int:
        close = markup.find(">", position)
        if close < 0:
            raise _bad_request(f"can't parse entities: Unclosed end tag at byte offset {offset}")
        tag = markup[position + 2 : close].strip().lower()
        if not self._open:
            raise _bad_request(f"can't parse entities: Unexpected end tag at byte offset {offset}")
        expected, start, attributes = self._open[-1]
        if tag != expected:
            raise _bad_request(
                f"can't parse entities: Unmatched end tag at byte offset {offset}, expected "
                f'"</{expected}>", found "</{tag}>"'
            )
        self._open.pop()
        if self.length > start:
            entity: dict[str, Any] = {
                "type": _HTML_ENTITY_TYPES[tag],
                "offset": start,
                "length": self.length - start,
            }
            if tag == "a":
                entity["url"] = attributes.get("href") or ""
            self.entities.append(entity)
        return close + 1


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
        """Text and entities as Telegram stores them: HTML parsed, other modes kept verbatim."""
        raw = params.get(text_key)
        text = "" if raw is None else str(raw)
        entities: list[dict[str, Any]] = list(params.get(entities_key) or [])
        if str(params.get("parse_mode") or "").upper() == "HTML":
            text, entities = _TelegramHtml().parse(text)
        if _utf16_length(text) > limit:
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
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH)
        if not text.strip():
            raise _bad_request("message text is empty")
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
