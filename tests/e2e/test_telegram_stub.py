"""Proves the Telegram stand-in against aiogram's real polling loop with a tiny probe router."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatAdministrators,
    BotCommandScopeChatMember,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
)

from tests.fakes.probe_bots import build_probe_router, stub_bot
from tests.fakes.telegram import (
    CHAT_BURST,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_PHOTO_BYTES,
    MAX_TEXT_LENGTH,
    Call,
    Fault,
    TelegramStub,
)

USER_ID = 4242


@pytest.fixture
async def polling_bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    bot = stub_bot(stub)
    dispatcher = Dispatcher()
    dispatcher.include_router(build_probe_router())
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=5)
    )
    # The polling loop asks getMe before its first getUpdates: after it, stop_polling is safe.
    await stub.wait_for("getMe")
    yield bot
    await dispatcher.stop_polling()
    await task
    await bot.session.close()


def replies_to(stub: TelegramStub, user_id: int) -> list[Call]:
    return [
        call
        for call in stub.calls
        if call.method == "sendMessage" and call.params.get("chat_id") == user_id
    ]


async def test_text_is_echoed_with_an_inline_keyboard(stub: TelegramStub, polling_bot: Bot) -> None:
    mark = stub.mark()
    stub.push_text(USER_ID, "привет <мир>")

    reply = await stub.wait_for_reply(USER_ID, after=mark)

    assert reply.method == "sendMessage"
    assert reply.params["text"] == "Эхо: <b>привет &lt;мир&gt;</b>"
    assert stub.buttons(reply) == [("Понятно", "ack")]
    sent = reply.result
    assert sent["chat"] == {"id": USER_ID, "type": "private", "first_name": f"User {USER_ID}"}
    assert sent["from"]["is_bot"] is True
    # The user's message took id 1 in this chat; the bot's answer is the next one.
    assert sent["message_id"] == 2
    assert sent["text"] == "Эхо: привет <мир>"
    assert sent["entities"] == [{"type": "bold", "offset": 5, "length": 12}]


async def test_button_press_edits_the_message_and_answers_the_callback(
    stub: TelegramStub, polling_bot: Bot
) -> None:
    stub.push_text(USER_ID, "вопрос")
    message_id = (await stub.wait_for_reply(USER_ID)).result["message_id"]

    mark = stub.mark()
    query_id = stub.push_callback(USER_ID, message_id, "ack")
    edit = await stub.wait_for_reply(USER_ID, after=mark)
    answer = await stub.wait_for("answerCallbackQuery", after=mark)

    assert edit.method == "editMessageText"
    assert edit.params["message_id"] == message_id
    assert answer.params["callback_query_id"] == query_id
    assert answer.params["text"] == "Готово"
    current = stub.message(USER_ID, message_id)
    assert current["text"] == "Эхо: вопрос ✓"
    assert "reply_markup" not in current
    assert stub.buttons(current) == []


async def test_document_round_trip_downloads_and_uploads_the_bytes(
    stub: TelegramStub, polling_bot: Bot
) -> None:
    content = "вопрос;ответ\n".encode() * 100
    mark = stub.mark()
    stub.push_document(USER_ID, content, "faq.csv", caption="база")

    size_reply = await stub.wait_for_reply(USER_ID, after=mark)
    upload = await stub.wait_for("sendDocument", after=mark)

    assert size_reply.params["text"] == f"{len(content)} байт"
    assert [call.method for call in stub.calls[mark:] if call.method != "getUpdates"][:2] == [
        "getFile",
        "downloadFile",
    ]
    uploaded = stub.file(upload.result["document"]["file_id"])
    assert uploaded.file_name == "copy-faq.csv"
    assert uploaded.content == content
    assert upload.params["document"] == uploaded


async def test_unknown_token_is_rejected(stub: TelegramStub) -> None:
    intruder = stub_bot(stub, token="987654321:not-the-stub-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await intruder.get_me()
    finally:
        await intruder.session.close()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stub.base_url}/bot1:wrong/getMe") as response,
    ):
        body = await response.json()
    assert response.status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert stub.calls == []
    assert stub.unauthorized_requests == ["getMe", "getMe"]


async def test_unknown_method_is_recorded_and_answered_404(stub: TelegramStub) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stub.base_url}/bot{stub.token}/sendDice", data={"chat_id": "1"}) as resp,
    ):
        body = await resp.json()
    assert resp.status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    assert stub.calls_of("sendDice")[0].params == {"chat_id": 1}


async def test_editing_without_changes_is_rejected_like_telegram(stub: TelegramStub) -> None:
    stub.open_chat(USER_ID)
    bot = stub_bot(stub)
    try:
        sent = await bot.send_message(USER_ID, "текст")
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text("текст", chat_id=USER_ID, message_id=sent.message_id)
    finally:
        await bot.session.close()


async def test_confirmed_update_is_not_delivered_again(
    stub: TelegramStub, polling_bot: Bot
) -> None:
    first = stub.push_text(USER_ID, "раз")
    await stub.wait_for_reply(USER_ID)
    mark = stub.mark()
    second = stub.push_text(USER_ID, "два")
    await stub.wait_for_reply(USER_ID, after=mark)
    await stub.wait_for(
        "getUpdates",
        predicate=lambda call: (call.params.get("offset") or 0) > second,
        after=mark,
    )

    deliveries = [
        update["update_id"] for call in stub.calls_of("getUpdates") for update in call.result or []
    ]
    assert deliveries.count(first) == 1
    assert deliveries.count(second) == 1
    assert [call.params["text"] for call in replies_to(stub, USER_ID)] == [
        "Эхо: <b>раз</b>",
        "Эхо: <b>два</b>",
    ]
    assert stub.pending_updates == []


# --- the stand-in refuses what Telegram refuses ----------------------------------------------


@pytest.fixture
async def direct_bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    """A bot calling the stand-in directly, no polling; USER_ID has started it."""
    stub.open_chat(USER_ID)
    bot = stub_bot(stub)
    yield bot
    await bot.session.close()


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("Ошибка <403>", 'Unsupported start tag "403"'),
        ("до <!-- комментарий --> после", 'Unsupported start tag "!--"'),
        ("строка<br>строка", 'Unsupported start tag "br"'),
        ("<<b>стрелка</b>", 'Unsupported start tag "<b"'),
        ("<b>не закрыт", 'Can\'t find end tag corresponding to start tag "b"'),
        ("лишний</b>", "Unexpected end tag"),
        ("<b>крест</i>", 'expected "</b>", found "</i>"'),
        ("<span>скрыто</span>", 'Tag "span" must have class "tg-spoiler"'),
        # An unquoted value is a name token (letters, digits, "." and "-"): a URL must be quoted.
        ("<a href=https://x.example>ссылка</a>", "Unexpected end of name token at byte offset 8"),
        # No self-closing tags: the name runs to a space or ">".
        ("<b/>", 'Unsupported start tag "b/"'),
        ('<a href="https://x.example"/>', 'Empty attribute name in the tag "a"'),
        ('<tg-emoji emoji-id="звезда">⭐</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
async def test_html_telegram_cannot_parse_is_refused(
    stub: TelegramStub, direct_bot: Bot, markup: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as refused:
        await direct_bot.send_message(USER_ID, markup, parse_mode="HTML")
    assert reason in str(refused.value)
    assert stub.calls_of("sendMessage")[-1].result is None


async def test_only_four_named_entities_and_numeric_ones_are_decoded(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    sent = await direct_bot.send_message(
        USER_ID,
        "<b>&lt;403&gt;</b> &amp; &quot;к&quot; &#1071;&#x42F; &nbsp; &copy; a & b > c "
        '<a href="https://x.example/?a=1&amp;b=2">ссылка</a>',
        parse_mode="HTML",
    )
    assert sent.text == '<403> & "к" ЯЯ &nbsp; &copy; a & b > c ссылка'
    entities = [(e.type, e.offset, e.length, e.url) for e in sent.entities or []]
    assert entities == [("bold", 0, 5, None), ("text_link", 39, 6, "https://x.example/?a=1&b=2")]


async def test_a_button_answered_too_late_or_twice_is_refused(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    sent = await direct_bot.send_message(USER_ID, "текст")
    fresh = stub.push_callback(USER_ID, sent.message_id, "x")
    # Pressed a minute ago, while the bot was down: too old to answer now.
    stale = stub.push_callback(USER_ID, sent.message_id, "x", age=60)
    assert await direct_bot.answer_callback_query(fresh)
    assert stub.calls_of("answerCallbackQuery")[-1].error is None
    for query in (fresh, stale, "no-such-query"):
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await direct_bot.answer_callback_query(query)


async def test_a_callback_answer_longer_than_200_characters_is_refused(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    sent = await direct_bot.send_message(USER_ID, "текст")
    query = stub.push_callback(USER_ID, sent.message_id, "x")
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await direct_bot.answer_callback_query(query, text="я" * 201)
    assert await direct_bot.answer_callback_query(query, text="я" * 200)
    accepted = stub.calls_of("answerCallbackQuery")[-1]
    assert (accepted.error, accepted.params["text"]) == (None, "я" * 200)


@pytest.mark.parametrize(
    ("command", "description", "reason"),
    [
        ("Start", "Начать", "BOT_COMMAND_INVALID"),
        ("/start", "Начать", "BOT_COMMAND_INVALID"),
        ("a" * 33, "Начать", "BOT_COMMAND_INVALID"),
        ("start", "", "BOT_COMMAND_DESCRIPTION_INVALID"),
        ("start", "я" * 257, "BOT_COMMAND_DESCRIPTION_INVALID"),
    ],
)
async def test_set_my_commands_refuses_what_telegram_refuses(
    stub: TelegramStub, direct_bot: Bot, command: str, description: str, reason: str
) -> None:
    assert await direct_bot.set_my_commands([BotCommand(command="help", description="Справка")])
    assert stub.calls_of("setMyCommands")[-1].error is None
    with pytest.raises(TelegramBadRequest, match=reason):
        await direct_bot.set_my_commands([BotCommand(command=command, description=description)])


async def test_more_than_a_hundred_commands_are_refused(direct_bot: Bot) -> None:
    commands = [BotCommand(command=f"c{n}", description="к") for n in range(101)]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMANDS_TOO_MUCH"):
        await direct_bot.set_my_commands(commands)


async def test_a_person_who_never_wrote_to_the_bot_cannot_be_messaged(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    stranger = 9999
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await direct_bot.send_message(stranger, "привет")
    stub.push_text(stranger, "/start")
    assert (await direct_bot.send_message(stranger, "привет")).text == "привет"


async def test_an_empty_inline_keyboard_removes_the_keyboard(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Да", callback_data="yes")]]
    )
    sent = await direct_bot.send_message(USER_ID, "вопрос", reply_markup=keyboard)
    assert "reply_markup" in stub.message(USER_ID, sent.message_id)
    await direct_bot.edit_message_reply_markup(
        chat_id=USER_ID,
        message_id=sent.message_id,
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[]),
    )
    assert "reply_markup" not in stub.message(USER_ID, sent.message_id)


async def test_a_button_that_does_nothing_is_refused(direct_bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Пустая")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await direct_bot.send_message(USER_ID, "вопрос", reply_markup=keyboard)


async def test_updates_the_bot_did_not_ask_for_are_never_delivered(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    # By default Telegram keeps chat_member updates back.
    stub.push_update({"chat_member": {"chat": stub.chat_object(-100)}})
    assert await direct_bot.get_updates(timeout=0) == []
    await direct_bot.get_updates(timeout=0, allowed_updates=["message"])
    sent = await direct_bot.send_message(USER_ID, "текст")
    stub.push_callback(USER_ID, sent.message_id, "x")
    text = stub.push_text(USER_ID, "вопрос")
    # The choice is remembered by later calls that do not repeat it.
    assert [u.update_id for u in await direct_bot.get_updates(timeout=0)] == [text]
    assert [next(k for k in u if k != "update_id") for u in stub.filtered_updates] == [
        "chat_member",
        "callback_query",
    ]


def _png(width: int, height: int) -> bytes:
    """The head of a PNG picture of that size: enough for Telegram (and the stand-in) to
    tell its shape."""
    header = b"IHDR" + struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    chunk = struct.pack(">I", 13) + header + struct.pack(">I", zlib.crc32(header))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize(
    "picture",
    [
        _png(1000, 530),
        b"\xff\xd8\xff\xe0" + b"\0" * 64,  # JPEG
        b"GIF89a" + struct.pack("<HH", 64, 64) + b"\0" * 32,
        b"RIFF" + struct.pack("<I", 64) + b"WEBPVP8 " + b"\0" * 56,
        _png(100, 100) + b"\0" * (MAX_PHOTO_BYTES - len(_png(100, 100))),  # exactly 10 MB
    ],
    ids=["png", "jpeg", "gif", "webp", "10 MB"],
)
async def test_a_photo_telegram_can_show_is_taken(direct_bot: Bot, picture: bytes) -> None:
    sent = await direct_bot.send_photo(USER_ID, BufferedInputFile(picture, "x"), caption="граф")
    assert sent.caption == "граф" and sent.photo is not None
    assert sent.photo[-1].file_size == len(picture)


@pytest.mark.parametrize(
    ("picture", "reason"),
    [
        (b"not a picture", "IMAGE_PROCESS_FAILED"),
        # RIFF is WebP's container, and also WAV's and AVI's.
        (b"RIFF" + struct.pack("<I", 64) + b"WAVEfmt " + b"\0" * 56, "IMAGE_PROCESS_FAILED"),
        (
            _png(100, 100) + b"\0" * (MAX_PHOTO_BYTES + 1 - len(_png(100, 100))),
            f"file of size {MAX_PHOTO_BYTES + 1} bytes is too big for a photo",
        ),
        (b"", "file must be non-empty"),
        (_png(9000, 1001), "PHOTO_INVALID_DIMENSIONS"),  # more than 10000 in total
        (_png(2100, 100), "PHOTO_INVALID_DIMENSIONS"),  # a ratio over 20
    ],
    ids=["text", "wav", "over 10 MB", "empty", "too large", "too narrow"],
)
async def test_a_photo_telegram_cannot_show_is_refused(
    stub: TelegramStub, direct_bot: Bot, picture: bytes, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=reason):
        await direct_bot.send_photo(USER_ID, BufferedInputFile(picture, "x.png"))
    assert stub.calls_of("sendPhoto")[-1].result is None


async def test_a_photo_keyboard_is_checked_and_kept_like_a_message_keyboard(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ещё", callback_data="more")]]
    )
    sent = await direct_bot.send_photo(
        USER_ID, BufferedInputFile(_png(1000, 530), "x.png"), reply_markup=keyboard
    )
    assert stub.buttons(stub.message(USER_ID, sent.message_id)) == [("Ещё", "more")]
    useless = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Пустая")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await direct_bot.send_photo(
            USER_ID, BufferedInputFile(_png(1000, 530), "x.png"), reply_markup=useless
        )


async def test_an_empty_document_is_refused(stub: TelegramStub, direct_bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
        await direct_bot.send_document(USER_ID, BufferedInputFile(b"", "faq.jsonl"))
    sent = await direct_bot.send_document(USER_ID, BufferedInputFile(b"\n", "faq.jsonl"))
    assert sent.document is not None and sent.document.file_size == 1


# --- limits, counted as Telegram counts them ----------------------------------------------
#
# "Text of the message to be sent, 1-4096 characters after entities parsing": characters are
# code points of the text Telegram keeps (tdlib refuses utf8_length(text) > 4096; a live probe
# had 4096 "😀", 8192 UTF-16 units, accepted and 4097 refused). Entity offsets are UTF-16
# units; this limit is not. callback_data: "1-64 bytes", of UTF-8.


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [
        ("я" * MAX_TEXT_LENGTH, None),
        # Characters, not UTF-16 units: 4096 emoji are 8192 units and still one message.
        ("😀" * MAX_TEXT_LENGTH, None),
        # After the markup is parsed away.
        (f"<b>{'я' * MAX_TEXT_LENGTH}</b>", "HTML"),
        # After the text is trimmed.
        ("я" * MAX_TEXT_LENGTH + "\n\n", None),
    ],
    ids=["cyrillic", "emoji", "html", "trailing new lines"],
)
async def test_a_text_of_4096_characters_is_one_message(
    direct_bot: Bot, text: str, parse_mode: str | None
) -> None:
    sent = await direct_bot.send_message(USER_ID, text, parse_mode=parse_mode)
    assert sent.text is not None and len(sent.text) == MAX_TEXT_LENGTH


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [
        ("я" * (MAX_TEXT_LENGTH + 1), None),
        ("😀" * (MAX_TEXT_LENGTH + 1), None),
        (f"<b>{'я' * (MAX_TEXT_LENGTH + 1)}</b>", "HTML"),
    ],
    ids=["cyrillic", "emoji", "html"],
)
async def test_a_text_of_4097_characters_is_refused(
    direct_bot: Bot, text: str, parse_mode: str | None
) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await direct_bot.send_message(USER_ID, text, parse_mode=parse_mode)
    sent = await direct_bot.send_message(USER_ID, "коротко")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await direct_bot.edit_message_text(
            text, chat_id=USER_ID, message_id=sent.message_id, parse_mode=parse_mode
        )


async def test_a_caption_may_have_1024_characters(direct_bot: Bot) -> None:
    picture = BufferedInputFile(_png(1000, 530), "x.png")
    sent = await direct_bot.send_photo(USER_ID, picture, caption="я" * MAX_CAPTION_LENGTH)
    assert sent.caption == "я" * MAX_CAPTION_LENGTH
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await direct_bot.send_photo(USER_ID, picture, caption="я" * (MAX_CAPTION_LENGTH + 1))


async def test_callback_data_may_have_64_bytes(stub: TelegramStub, direct_bot: Bot) -> None:
    # Bytes of UTF-8, not characters: 32 Cyrillic letters are 64 bytes.
    fits = "я" * (MAX_CALLBACK_DATA_BYTES // 2)
    too_long = fits + "x"
    assert len(fits.encode()) == MAX_CALLBACK_DATA_BYTES and len(too_long) < 64

    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Да", callback_data=data)]]
        )

    sent = await direct_bot.send_message(USER_ID, "вопрос", reply_markup=keyboard(fits))
    assert stub.buttons(stub.message(USER_ID, sent.message_id)) == [("Да", fits)]
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await direct_bot.send_message(USER_ID, "вопрос", reply_markup=keyboard(too_long))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await direct_bot.edit_message_reply_markup(
            chat_id=USER_ID, message_id=sent.message_id, reply_markup=keyboard(too_long)
        )


# --- formatting: what Telegram keeps, drops and refuses ------------------------------------


def _entities(sent: Any) -> list[tuple[Any, ...]]:
    """(type, offset, length, and the url, language or user id) of each entity kept."""
    found = []
    for entity in sent.entities or sent.caption_entities or []:
        extra = entity.url or entity.language or (entity.user.id if entity.user else None)
        found.append((entity.type, entity.offset, entity.length, extra))
    return found


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        # "bold, italic, underline, strikethrough, and spoiler entities can contain and can be
        # part of any other entities, except pre and code" (Formatting options). Telegram
        # keeps such nesting as pieces that do not overlap by halves: the bold is cut where
        # the italic begins.
        (
            "<b>жирный <i>курсив</i></b>",
            "жирный курсив",
            [("bold", 0, 7, None), ("bold", 7, 6, None), ("italic", 7, 6, None)],
        ),
        # "Use nested pre and code tags, to define programming language for pre entity."
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [("pre", 0, 5, "python")],
        ),
        # A block quote may hold code.
        (
            "<blockquote><code>cat</code></blockquote>",
            "cat",
            [("blockquote", 0, 3, None), ("code", 0, 3, None)],
        ),
    ],
    ids=["italic in bold", "pre with a language", "code in a quote"],
)
async def test_html_nesting_telegram_allows_is_kept(
    direct_bot: Bot, markup: str, text: str, entities: list[tuple[Any, ...]]
) -> None:
    sent = await direct_bot.send_message(USER_ID, markup, parse_mode="HTML")
    assert (sent.text, _entities(sent)) == (text, entities)


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        # "pre and code entities can't contain other entities": Telegram does not refuse them,
        # it drops the inner ones (tdlib's fix_formatted_text), and the text stays plain.
        ("<code>npm <b>install</b></code>", "npm install", [("code", 0, 11, None)]),
        (
            '<pre><a href="https://x.example/">ссылка</a></pre>',
            "ссылка",
            [("pre", 0, 6, None)],
        ),
        # Bold can't contain code: it is cut around it.
        (
            "<b>до <code>код</code> после</b>",
            "до код после",
            [("bold", 0, 3, None), ("code", 3, 3, None), ("bold", 6, 6, None)],
        ),
        # "Programming language can't be specified for standalone code tags."
        ('<code class="language-python">x</code>', "x", [("code", 0, 1, None)]),
    ],
    ids=["bold in code", "link in pre", "code in bold", "language of a bare code"],
)
async def test_html_nesting_telegram_forbids_loses_the_inner_formatting(
    stub: TelegramStub, direct_bot: Bot, markup: str, text: str, entities: list[tuple[Any, ...]]
) -> None:
    sent = await direct_bot.send_message(USER_ID, markup, parse_mode="HTML")
    assert (sent.text, _entities(sent)) == (text, entities)
    assert stub.message(USER_ID, sent.message_id)["text"] == text


@pytest.mark.parametrize(
    ("href", "kept"),
    [
        ("https://id.example.com/path?a=1", ("text_link", 0, 6, "https://id.example.com/path?a=1")),
        # A bare domain is an http link; Telegram adds the path.
        ("example.com", ("text_link", 0, 6, "http://example.com/")),
        (
            "tg://resolve?domain=faqbot_stub_bot",
            ("text_link", 0, 6, "tg://resolve?domain=faqbot_stub_bot"),
        ),
        ("tg://user?id=42", ("text_mention", 0, 6, 42)),
    ],
    ids=["https", "bare domain", "tg", "mention"],
)
async def test_a_link_telegram_can_open_is_kept(
    direct_bot: Bot, href: str, kept: tuple[Any, ...]
) -> None:
    sent = await direct_bot.send_message(USER_ID, f'<a href="{href}">ссылка</a>', parse_mode="HTML")
    assert sent.text == "ссылка"
    assert _entities(sent) == [kept]


@pytest.mark.parametrize(
    "href",
    ["", "javascript:alert(1)", "ftp://files.example.com/faq", "http://localhost/", "https://"],
    ids=["empty", "javascript", "ftp", "no dot in the host", "no host"],
)
async def test_a_link_telegram_cannot_open_is_dropped_not_refused(
    direct_bot: Bot, href: str
) -> None:
    # tdlib's parse_html: an <a> whose URL (or, with an empty href, whose text) fails
    # LinkManager::check_link makes no entity; the text stays, without a link.
    sent = await direct_bot.send_message(USER_ID, f'<a href="{href}">ссылка</a>', parse_mode="HTML")
    assert (sent.text, _entities(sent)) == ("ссылка", [])


async def test_a_text_link_entity_with_a_bad_url_is_refused(direct_bot: Bot) -> None:
    good = MessageEntity(type="text_link", offset=0, length=6, url="https://x.example")
    sent = await direct_bot.send_message(USER_ID, "ссылка", entities=[good])
    assert _entities(sent) == [("text_link", 0, 6, "https://x.example/")]
    bad = MessageEntity(type="text_link", offset=0, length=6, url="http://localhost/")
    with pytest.raises(
        TelegramBadRequest, match="entity URL 'http://localhost/' is invalid: Wrong HTTP URL"
    ):
        await direct_bot.send_message(USER_ID, "ссылка", entities=[bad])


@pytest.mark.parametrize(
    ("entity", "reason"),
    [
        # "😀" is two UTF-16 code units: the text "😀 да" is five long.
        (
            MessageEntity(type="bold", offset=6, length=1),
            "entity begins after the end of the text at UTF-16 offset 6",
        ),
        (
            MessageEntity(type="bold", offset=3, length=3),
            "entity beginning at UTF-16 offset 3 ends after the end of the text at UTF-16 offset 6",
        ),
        (
            MessageEntity(type="bold", offset=1, length=2),
            "entity begins in a middle of a UTF-16 symbol",
        ),
        (
            MessageEntity(type="bold", offset=-1, length=2),
            "receive an entity with incorrect offset -1",
        ),
        (
            MessageEntity(type="shouting", offset=0, length=2),
            "can't parse MessageEntity: Unsupported type specified",
        ),
    ],
    ids=["begins past the end", "ends past the end", "inside an emoji", "negative", "unknown type"],
)
async def test_entities_that_do_not_fit_the_text_are_refused(
    direct_bot: Bot, entity: MessageEntity, reason: str
) -> None:
    fits = MessageEntity(type="bold", offset=3, length=2)  # "да", after "😀 "
    sent = await direct_bot.send_message(USER_ID, "😀 да", entities=[fits])
    assert _entities(sent) == [("bold", 3, 2, None)]
    with pytest.raises(TelegramBadRequest, match=reason):
        await direct_bot.send_message(USER_ID, "😀 да", entities=[entity])


async def test_entities_are_ignored_when_a_parse_mode_is_given(direct_bot: Bot) -> None:
    # Client::get_formatted_text: with a parse_mode the markup decides, `entities` are unread.
    wrong = MessageEntity(type="bold", offset=100, length=1)
    sent = await direct_bot.send_message(USER_ID, "<i>да</i>", parse_mode="HTML", entities=[wrong])
    assert _entities(sent) == [("italic", 0, 2, None)]


async def test_markdown_v2_needs_reserved_characters_escaped(direct_bot: Bot) -> None:
    sent = await direct_bot.send_message(
        USER_ID, r"*Готово* за 5\-10 минут\. Код: `a.b`", parse_mode="MarkdownV2"
    )
    assert sent.text == "Готово за 5-10 минут. Код: a.b"
    assert _entities(sent) == [("bold", 0, 6, None), ("code", 27, 3, None)]
    with pytest.raises(TelegramBadRequest) as refused:
        await direct_bot.send_message(USER_ID, "*Готово* за 5-10 минут.", parse_mode="MarkdownV2")
    assert str(refused.value.message).endswith(
        "can't parse entities: Character '-' is reserved and must be escaped with the "
        "preceding '\\'"
    )
    with pytest.raises(TelegramBadRequest, match="Can't find end of Bold entity at byte offset 0"):
        await direct_bot.send_message(USER_ID, r"*Готово\.", parse_mode="MarkdownV2")


async def test_legacy_markdown_is_parsed_too(direct_bot: Bot) -> None:
    sent = await direct_bot.send_message(USER_ID, "*Готово*, snake\\_case.", parse_mode="Markdown")
    assert (sent.text, _entities(sent)) == ("Готово, snake_case.", [("bold", 0, 6, None)])
    with pytest.raises(
        TelegramBadRequest, match="Can't find end of the entity starting at byte offset 0"
    ):
        await direct_bot.send_message(USER_ID, "*Готово", parse_mode="Markdown")


async def test_an_unknown_parse_mode_is_refused(direct_bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await direct_bot.send_message(USER_ID, "текст", parse_mode="Markdown3")
    # Matched without regard to case, as the Bot API does.
    assert (await direct_bot.send_message(USER_ID, "<b>да</b>", parse_mode="html")).text == "да"


async def test_text_that_is_empty_after_parsing_is_refused(direct_bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="text must be non-empty"):
        await direct_bot.send_message(USER_ID, "<b> </b>\n", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await direct_bot.send_message(USER_ID, "")
    # Telegram trims what is left, and its entities with it.
    sent = await direct_bot.send_message(USER_ID, "\n <b>да </b>\n", parse_mode="HTML")
    assert (sent.text, _entities(sent)) == ("да", [("bold", 0, 2, None)])


# --- command scopes --------------------------------------------------------------------------

COMMANDS = [BotCommand(command="help", description="Справка")]


async def test_a_command_scope_of_a_chat_needs_a_person_who_started_the_bot(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    assert await direct_bot.set_my_commands(COMMANDS, scope=BotCommandScopeChat(chat_id=USER_ID))
    assert await direct_bot.set_my_commands(COMMANDS, scope=BotCommandScopeAllPrivateChats())
    stranger = 9999
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await direct_bot.set_my_commands(COMMANDS, scope=BotCommandScopeChat(chat_id=stranger))
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await direct_bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=stranger))
    stub.push_text(stranger, "/start")
    assert await direct_bot.set_my_commands(COMMANDS, scope=BotCommandScopeChat(chat_id=stranger))


async def test_a_chat_member_scope_needs_a_group_telegram_knows(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    group = -1001234567890
    member = BotCommandScopeChatMember(chat_id=group, user_id=USER_ID)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await direct_bot.set_my_commands(COMMANDS, scope=member)
    await direct_bot.send_message(group, "Всем привет")  # now the bot is in the group
    assert await direct_bot.set_my_commands(COMMANDS, scope=member)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await direct_bot.set_my_commands(
            COMMANDS, scope=BotCommandScopeChatMember(chat_id=9999, user_id=9999)
        )
    with pytest.raises(TelegramBadRequest, match="can't use specified scope in private chats"):
        await direct_bot.set_my_commands(
            COMMANDS, scope=BotCommandScopeChatAdministrators(chat_id=USER_ID)
        )


async def _raw_call(stub: TelegramStub, method: str, body: dict[str, Any]) -> tuple[int, Any]:
    """A Bot API call aiogram would not make (its types refuse the values)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stub.base_url}/bot{stub.token}/{method}", json=body) as response,
    ):
        return response.status, await response.json()


async def test_an_unknown_command_scope_is_refused(stub: TelegramStub) -> None:
    commands = [{"command": "help", "description": "Справка"}]
    status, body = await _raw_call(
        stub, "setMyCommands", {"commands": commands, "scope": {"type": "default"}}
    )
    assert (status, body) == (200, {"ok": True, "result": True})
    status, body = await _raw_call(
        stub, "setMyCommands", {"commands": commands, "scope": {"type": "everyone"}}
    )
    assert status == 400
    assert body["description"] == (
        "Bad Request: can't parse BotCommandScope: Unsupported type specified"
    )


# --- inline messages -------------------------------------------------------------------------


async def test_an_edit_by_an_unknown_inline_message_id_is_refused(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    inline = stub.add_inline_message("Ответ из inline-режима")
    assert await direct_bot.edit_message_text("Ответ обновлён", inline_message_id=inline) is True
    assert stub.inline_message(inline)["text"] == "Ответ обновлён"
    with pytest.raises(TelegramBadRequest, match="MESSAGE_ID_INVALID"):
        await direct_bot.edit_message_text("Ответ обновлён", inline_message_id="AgAAAGnever")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ещё", callback_data="more")]]
    )
    assert await direct_bot.edit_message_reply_markup(
        inline_message_id=inline, reply_markup=keyboard
    )
    with pytest.raises(TelegramBadRequest, match="MESSAGE_ID_INVALID"):
        await direct_bot.edit_message_reply_markup(
            inline_message_id="AgAAAGnever", reply_markup=keyboard
        )


# --- flood control -------------------------------------------------------------------------


async def test_a_call_before_retry_after_has_passed_is_refused_and_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="before the retry_after it was given"):
        async with TelegramStub() as stub:
            stub.open_chat(USER_ID)
            stub.open_chat(USER_ID + 1)
            bot = stub_bot(stub)
            stub.fail_next("sendMessage", Fault("retry_after", 1))
            with pytest.raises(TelegramRetryAfter) as told:
                await bot.send_message(USER_ID, "раз")
            assert told.value.retry_after == 1
            # Another chat is not held; the same chat is, and calling it is a violation.
            await bot.send_message(USER_ID + 1, "другому")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(USER_ID, "два")
            assert [int(c.params["chat_id"]) for c in stub.flood_violations] == [USER_ID]
            await bot.session.close()


async def test_a_call_once_retry_after_has_passed_goes_through(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    stub.fail_next("sendMessage", Fault("retry_after", 1))
    with pytest.raises(TelegramRetryAfter):
        await direct_bot.send_message(USER_ID, "раз")
    await asyncio.sleep(1.05)  # Telegram's time passing: the behaviour under test
    sent = await direct_bot.send_message(USER_ID, "два")
    assert sent.text == "два"
    assert stub.flood_violations == []


async def test_sending_rates_refuse_a_fourth_message_to_a_chat_at_once(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    stub.switch_on_rate_limits(per_second=30, per_chat=1)
    for n in range(CHAT_BURST):
        await direct_bot.send_message(USER_ID, f"сообщение {n}")
    with pytest.raises(TelegramRetryAfter) as told:
        await direct_bot.send_message(USER_ID, "лишнее")
    assert told.value.retry_after == 1
    assert stub.flood_violations == []  # going over the rate is not a violation
    stub.open_chat(USER_ID + 1)
    await direct_bot.send_message(USER_ID + 1, "другому можно")  # another chat has its own rate
    with pytest.raises(TelegramRetryAfter):
        await direct_bot.send_message(USER_ID, "сразу ещё раз")  # calling again too soon is
    assert len(stub.flood_violations) == 1
    stub.flood_violations.clear()  # seen: the stand-in must not fail this test for it


async def test_sending_rates_refuse_more_than_thirty_messages_a_second(
    stub: TelegramStub, direct_bot: Bot
) -> None:
    stub.switch_on_rate_limits(per_second=30, per_chat=1)
    chats = [USER_ID + n for n in range(100)]
    for chat in chats:
        stub.open_chat(chat)
    began = time.monotonic()
    sent = 0
    with pytest.raises(TelegramRetryAfter):
        for chat in chats:  # each to its own chat: only the rate in all can refuse
            await direct_bot.send_message(chat, "всем")
            sent += 1
    elapsed = time.monotonic() - began
    # A full bucket of 30, and what it refilled meanwhile at 30 a second.
    assert 30 <= sent <= 30 + 30 * elapsed + 1, (sent, elapsed)
    assert stub.flood_violations == []
