"""The `faqbot` command: reads the settings once and runs one of its command groups."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.cli import articles, evaluation, inbox, models, serve, training
from bot.config import Settings
from bot.redaction import RedactingFormatter
from knowledge_base.encoders.base import ModelNotFoundError
from knowledge_base.storage.engine import upgrade_database
from knowledge_base.training.registry import remove_leftovers

# What `faqbot --help` says first.
DESCRIPTION = (
    "The `faqbot` command: run, chat, ask, import, export, eval, train, export-pairs, models, "
    "stats, inbox."
)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Commands whose log is the product (a server); the others print their result.
_LOGGING_COMMANDS = {"run"}


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
    if args.command not in _LOGGING_COMMANDS:
        # One-shot commands print their result; their log is only for warnings.
        level = max(level, logging.WARNING)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    for log_handler in logging.getLogger().handlers:
        log_handler.setFormatter(RedactingFormatter(LOG_FORMAT, settings.bot_token))
    # Quiet the libraries that chat at INFO about HTTP and model loading.
    for noisy in ("httpx", "sentence_transformers", "aiogram.event", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        upgrade_database(settings.database_url)
    except (OSError, SQLAlchemyError) as error:
        print(f"Cannot open the database ({database_problem(settings, error)}).", file=sys.stderr)
        return 2
    for leftover in remove_leftovers(settings.model.models_dir):
        logging.getLogger("faqbot").info("removed what a killed training left: %s", leftover)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        return handler(settings, args)
    except ModelNotFoundError as error:
        print(error, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def database_problem(settings: Settings, error: BaseException) -> str:
    """One line on why the database cannot be opened, naming it without its password."""
    reason = getattr(error, "orig", None) or getattr(error, "strerror", None) or error
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"{where}: {reason}; give the bot's user write access there or set DATABASE_URL"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faqbot", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command")
    for group in (serve, articles, evaluation, training, models, inbox):
        group.register(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
