"""`faqbot run`, `chat` and `ask`: Telegram polling and the terminal conversation."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import re
import signal
import sys
from functools import partial
from html import unescape
from typing import Any

from bot.app import Resources, build_resources, create_bot, create_dispatcher
from bot.config import Settings
from bot.notifications import tell_askers
from bot.redaction import redact
from bot.runtime.inbox_notices import InboxNoticeSender, edit_message
from bot.runtime.journal import JournalInUse, JournalUnwritable, UpdateJournal
from bot.runtime.polling import DurablePolling
from bot.runtime.sending import prefer_waiting_threads
from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.articles import ArticleService
from knowledge_base.search.questions import clean_question
from knowledge_base.search.service import SearchService
from knowledge_base.types import Answer, Article, Band

log = logging.getLogger("faqbot")


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="serve Telegram by long polling")
    run.add_argument(
        "--chat-fallback",
        action="store_true",
        help="without BOT_TOKEN, open the terminal chat instead of failing (when stdin is a tty)",
    )
    run.set_defaults(handler=_run)

    chat = sub.add_parser("chat", help="talk to the knowledge base in the terminal")
    chat.set_defaults(handler=_chat)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(handler=_ask)


MALFORMED_TOKEN = (
    "BOT_TOKEN is malformed: a token from @BotFather looks like 123456789:AAH…, digits, a "
    "colon, then 35 letters, digits, - or _; copy it again (/mybots → API Token)."
)
# How to fix a path the bot cannot write.
FIX_PATHS = "give the bot's user write access there, or point the setting at a writable path."
NO_TOKEN = (
    "BOT_TOKEN is not set: create a bot with @BotFather in Telegram (/newbot), put its token "
    "into .env as BOT_TOKEN=..., then run again; meanwhile `faqbot chat` talks to the base here."
)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.bot_token:
        print(NO_TOKEN, file=sys.stderr)
        if args.chat_fallback and sys.stdin.isatty():
            # The terminal chat prints answers; the serving log would only clutter it.
            logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
            return _chat(settings, args)
        return 2
    prefer_waiting_threads()  # replies are noted on a thread of their own
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    """`faqbot run`, stopped by Ctrl+C (exit 130) or SIGTERM (exit 0) at any moment. Until
    polling begins (and takes the signals over to let the updates in hand finish), a signal
    cancels the start-up from the event loop: Python's own handler would raise wherever the
    main thread is, even inside aiohttp reading a response, and print a traceback."""
    loop = asyncio.get_running_loop()
    starting = asyncio.current_task()
    received: list[int] = []

    def stop_starting(signal_number: int) -> None:
        received.append(signal_number)
        if starting is not None:
            starting.cancel()

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop_starting, signal_number)
    try:
        return await _start_and_serve(settings)
    except asyncio.CancelledError:
        if not received:
            raise
        return 130 if received[0] == signal.SIGINT else 0


async def _start_and_serve(settings: Settings) -> int:
    """Start-up checks cheapest first, each failure one line with its fix: the token, Telegram,
    the update journal (a second instance is refused here), and only then the model."""
    from aiogram.exceptions import TelegramUnauthorizedError
    from aiogram.utils.token import TokenValidationError

    try:
        bot = create_bot(settings)
    except TokenValidationError:
        print(MALFORMED_TOKEN, file=sys.stderr)
        return 2
    try:
        me = await _check_token(bot, settings)
        if me is None:
            return 2
        try:
            journal = UpdateJournal(settings.update_journal, me.id)
        except JournalInUse as error:
            print(f"{error}: one `faqbot run` per bot at a time.", file=sys.stderr)
            return 2
        except JournalUnwritable as error:
            print(f"Cannot write the update journal ({error}): {FIX_PATHS}", file=sys.stderr)
            return 2
        try:
            return await _poll(settings, bot, journal, me.username or str(me.id))
        finally:
            journal.close()
    except TelegramUnauthorizedError:
        print("Telegram rejected BOT_TOKEN (revoked?): check it with @BotFather.", file=sys.stderr)
        return 2
    finally:
        await bot.session.close()


async def _check_token(bot: Any, settings: Settings) -> Any:
    """The bot's own account, or None after one line on what is wrong. Before the model
    loads: a typo should not cost a minute."""
    from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramUnauthorizedError

    try:
        return await bot.get_me()
    except TelegramUnauthorizedError:
        print("Telegram rejected BOT_TOKEN: check it with @BotFather (/mybots).", file=sys.stderr)
    except (TelegramAPIError, ClientDecodeError) as error:
        # Unreachable, or still failing after the retries (429, 5xx, a proxy's HTML page).
        reason = redact(str(error), settings.bot_token)
        print(f"Cannot reach the Telegram Bot API: {reason}", file=sys.stderr)
    return None


async def _poll(settings: Settings, bot: Any, journal: UpdateJournal, name: str) -> int:
    """Load the model, then poll until SIGINT (exit 130, as a shell expects of Ctrl+C) or
    SIGTERM (exit 0: a service manager's stop)."""
    _freeze_imported_objects()
    resources = await build_resources(settings)
    try:
        dp = create_dispatcher(resources)
        # People whose /unanswered questions were attached are told after the undo period.
        notices = InboxNoticeSender(
            resources.session_factory, partial(tell_askers, bot), edit=partial(edit_message, bot)
        )
        dp.startup.register(notices.start)
        dp.shutdown.register(notices.stop)
        await _set_command_menus(bot, settings.admin_ids)
        log.info("polling Telegram as @%s", name)
        stop = asyncio.Event()
        polling = DurablePolling(dp, bot, journal, concurrency=settings.max_concurrent_updates)
        received: list[int] = []

        def on_signal(signal_number: int) -> None:
            # The first Ctrl+C lets the updates in hand finish; a second one does not wait.
            received.append(signal_number)
            if stop.is_set():
                polling.hurry()
            stop.set()

        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, on_signal, signal_number)
        await polling.run(stop)
        log.info("stopped")
    finally:
        await resources.close()
    return 130 if received and received[0] == signal.SIGINT else 0


def _freeze_imported_objects() -> None:
    """Exempt what the imports built (aiogram's and pydantic's types, some 240,000 objects)
    from the garbage collector: they live as long as the bot, and a full collection walking
    them stalled the event loop for about 100 ms each time. Done before the model loads, so a
    model a swap takes out of service can still be collected."""
    gc.collect()
    gc.freeze()


async def _set_command_menus(bot: Any, admin_ids: frozenset[int]) -> None:
    """Everyone's menu; each admin's chat also lists the admin commands. A failure only
    leaves a menu out: the bot answers all the same."""
    from aiogram.exceptions import ClientDecodeError, TelegramAPIError
    from aiogram.types import BotCommand, BotCommandScopeChat

    everyone = [BotCommand(command=c, description=d) for c, d in texts.COMMANDS.items()]
    admins = everyone + [
        BotCommand(command=c, description=d) for c, d in admin_texts.COMMANDS.items()
    ]
    menus = [(everyone, None)] + [(admins, BotCommandScopeChat(chat_id=a)) for a in admin_ids]
    for commands, scope in menus:
        try:
            await bot.set_my_commands(commands, scope=scope)
        except (TelegramAPIError, ClientDecodeError) as error:
            # An admin who never opened the bot: Telegram knows no such chat yet.
            log.warning("setMyCommands failed for %s (%s)", scope or "everyone", error)


def _plain(html: str) -> str:
    return unescape(re.sub(r"</?[a-z]+>", "", html))


def _whole(article: Article) -> str:
    """An article as the terminal shows it: whole, as it has no message limit."""
    return f"{article.title}\n\n{article.body}"


def render_plain(answer: Answer) -> str:
    """The bot's reply as the terminal shows it, with the score and band for the operator."""
    meta = f"[{answer.band.value}, score {answer.score:.3f}]"
    if answer.band is Band.ANSWER and answer.article is not None:
        return f"{_whole(answer.article)}\n{meta}"
    if answer.band is Band.SUGGEST:
        options = "\n".join(
            f"  {i}. {m.title} ({m.score:.3f})" for i, m in enumerate(answer.alternatives, 1)
        )
        return f"{texts.SUGGEST}\n{options}\n{meta}"
    return f"{_plain(texts.NOTHING_FOUND if answer.article else texts.EMPTY_BASE)}\n{meta}"


def _chat(settings: Settings, _args: argparse.Namespace) -> int:
    return asyncio.run(_chat_loop(settings))


async def _chat_loop(settings: Settings) -> int:
    print(texts.CHAT_LOADING, file=sys.stderr)
    resources = await build_resources(settings)
    print(texts.CHAT_PROMPT, file=sys.stderr)
    last: Answer | None = None
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except EOFError:
                break
            line = line.strip()
            if not line:
                break
            offered = last.alternatives if last and last.band is Band.SUGGEST else ()
            # A number of one or two digits picks a suggestion ("404" is still a question).
            if line.isdigit() and len(line) <= 2:
                if 1 <= int(line) <= len(offered):
                    async with resources.session_factory() as session:
                        article = await ArticleService(session).get(
                            offered[int(line) - 1].article_id
                        )
                    if article is not None:
                        print(_whole(article))
                else:
                    print(texts.chat_no_such_choice(len(offered)))
                continue
            last = await _answer(resources, _within_limit(line, settings.max_question_chars))
            print(render_plain(last))
    finally:
        await resources.close()
    return 0


def _within_limit(question: str, limit: int) -> str:
    """The question cut to `limit` characters, saying so as the bot does in Telegram."""
    if len(question) > limit:
        print(texts.truncated(limit), file=sys.stderr)
    return question[:limit]


async def _answer(resources: Resources, question: str) -> Answer:
    async with resources.session_factory() as session:
        return await SearchService(resources.search, resources.answer_log, session).answer(question)


def answer_json(answer: Answer) -> dict[str, Any]:
    title = answer.article.title if answer.article and answer.band is not Band.NOTHING else None
    alternatives = answer.alternatives if answer.band is not Band.NOTHING else ()
    return {
        "band": answer.band.value,
        "title": title,
        "score": round(answer.score, 4),
        "alternatives": [
            {"title": m.title, "score": round(m.score, 4)}
            for m in alternatives
            if answer.article is None or m.article_id != answer.article.id
        ],
    }


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    if not clean_question(args.question):
        # What the bot says to an empty message; and no model loaded for nothing.
        print(texts.EMPTY_QUESTION, file=sys.stderr)
        return 2

    async def ask() -> int:
        resources = await build_resources(settings)
        try:
            answer = await _answer(
                resources, _within_limit(args.question, settings.max_question_chars)
            )
        finally:
            await resources.close()
        if args.json:
            print(json.dumps(answer_json(answer), ensure_ascii=False))
        else:
            print(render_plain(answer))
        return 0

    return asyncio.run(ask())
