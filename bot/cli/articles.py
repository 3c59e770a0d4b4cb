"""`faqbot import` and `faqbot export`: article files in and out."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from knowledge_base.articles import ArticleService
from knowledge_base.io import ImportFormatError, read_articles, write_articles
from knowledge_base.storage.engine import open_session


def register(sub: Any) -> None:
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

    return asyncio.run(run_import())


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

    return asyncio.run(run_export())
