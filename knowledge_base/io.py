"""Reads and writes articles (JSONL, YAML, CSV) and evaluation sets (JSONL)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge_base.telegram_html import TelegramHtmlError, plain_text
from knowledge_base.text_rules import (
    LAYOUT,
    MAX_BODY_CHARS,
    MAX_CATEGORY_CHARS,
    MAX_PHRASING_CHARS,
    MAX_TITLE_CHARS,
    control_character,
    normal_title,
)
from knowledge_base.types import Article, ArticleDraft

FORMATS = ("jsonl", "yaml", "csv")
QUESTION_SEPARATOR = "|"
# An article's `format`: its body is plain text (the default) or Telegram HTML, which is how
# an export keeps the formatting an admin wrote in Telegram.
TEXT, HTML = "text", "html"
CSV_COLUMNS = ["title", "body", "questions", "category", "format"]
# Excel reads a CSV file as UTF-8 only when it starts with this mark.
BOM = "\ufeff"
# A CSV cell starting with one of these is a formula to a spreadsheet. Export writes such a
# cell behind a quote (and one more quote on a cell that is quotes and then a formula start),
# and import takes exactly one off such a cell; any other cell, a leading quote included, is
# left as it is.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


class ImportFormatError(ValueError):
    """A file that cannot be imported; `line` is 1-based where it is known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class EvalItem:
    query: str
    title: str


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if suffix in ("yaml", "yml"):
        return "yaml"
    if suffix == "csv":
        return "csv"
    raise ImportFormatError(f"unknown file type {path.suffix!r}: use .jsonl, .yaml or .csv")


def read_articles(path: Path) -> list[ArticleDraft]:
    return parse_articles(decode_text(path.read_bytes()), detect_format(path))


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a BOM), or Windows-1251 as Excel saves Russian text; anything
    else is named by its line, not its byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        text = ""
    # Almost any bytes decode as cp1251: only Russian text with no control characters is it.
    if _CYRILLIC.search(text) and control_character(text, LAYOUT) is None:
        return text
    raise ImportFormatError(
        "not text: neither UTF-8 nor Windows-1251; save the file as UTF-8 text", line
    )


_CYRILLIC = re.compile("[\u0400-\u04ff]")


def parse_articles(text: str, fmt: str) -> list[ArticleDraft]:
    """Parse a whole file; the first bad record raises with its line number."""
    text = text.removeprefix(BOM)
    if fmt == "jsonl":
        drafts = list(_parse_jsonl(text))
    elif fmt == "yaml":
        drafts = list(_parse_yaml(text))
    elif fmt == "csv":
        drafts = list(_parse_csv(text))
    else:
        raise ImportFormatError(f"unknown format {fmt!r}")
    seen: dict[str, int] = {}
    for line, draft in drafts:
        if draft.title in seen:
            raise ImportFormatError(
                f"title {draft.title!r} repeats the one on line {seen[draft.title]}", line
            )
        seen[draft.title] = line
    return [draft for _, draft in drafts]


def _parse_jsonl(text: str) -> Iterable[tuple[int, ArticleDraft]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_no_constant)
        except json.JSONDecodeError as error:
            raise ImportFormatError(f"not valid JSON ({error.msg})", number) from None
        except RecursionError:
            raise ImportFormatError("nested too deeply to be an article", number) from None
        yield number, draft_from_record(record, number, "jsonl")


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON and are no text.
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


class _StrictYamlLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word; an article file must not."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base`: the keys written beside it override the merged ones
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ImportFormatError(
                    f"the key {key!r} appears twice in one article", key_node.start_mark.line + 1
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str) -> Iterable[tuple[int, ArticleDraft]]:
    try:
        nodes = yaml.compose(text, Loader=_StrictYamlLoader)
        records = yaml.load(text, Loader=_StrictYamlLoader)  # a SafeLoader: no objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ImportFormatError("not valid YAML", mark.line + 1 if mark else None) from None
    except RecursionError:
        raise ImportFormatError("nested too deeply to be a list of articles") from None
    except TypeError as error:  # a key YAML allows and Python cannot hash, like [x]
        raise ImportFormatError(f"not a list of articles ({error})") from None
    if records is None:
        return
    if not isinstance(records, list) or nodes is None:
        raise ImportFormatError("a YAML file must be a list of articles", 1)
    for node, record in zip(nodes.value, records, strict=True):
        number = node.start_mark.line + 1
        yield number, draft_from_record(record, number, "yaml")


def _parse_csv(text: str) -> Iterable[tuple[int, ArticleDraft]]:
    header = text.split("\n", 1)[0]
    # Excel writes a semicolon between cells where a comma is the decimal separator.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames or not {"title", "body"} <= set(reader.fieldnames):
        raise ImportFormatError("the CSV header must name at least the columns title and body", 1)
    for record in reader:
        number = reader.line_num
        if None in record:
            raise ImportFormatError("more cells than columns", number)
        record = {key: _csv_value(value) for key, value in record.items()}
        questions = record.get("questions") or ""
        yield (
            number,
            draft_from_record(
                {
                    "title": record.get("title"),
                    "body": record.get("body"),
                    "category": record.get("category") or "",
                    "questions": [q for q in questions.split(QUESTION_SEPARATOR)],
                    "format": record.get("format") or None,
                },
                number,
            ),
        )


def draft_from_record(record: Any, line: int | None = None, fmt: str = "") -> ArticleDraft:
    if not isinstance(record, dict):
        raise ImportFormatError("an article must be an object with title and body", line)
    unknown = set(record) - {"title", "body", "questions", "category", "format"}
    if unknown:
        raise ImportFormatError(f"unknown fields: {', '.join(sorted(map(str, unknown)))}", line)
    title, body = record.get("title"), record.get("body")
    for name, value in (("title", title), ("body", body)):
        if value is not None and not isinstance(value, str):
            hint = " (in YAML, quote values such as 2024-01-01 or yes)" if fmt == "yaml" else ""
            raise ImportFormatError(f"{name} must be text, not {type(value).__name__}{hint}", line)
        if not value or not value.strip():
            raise ImportFormatError(f"{name} is missing or empty", line)
    assert isinstance(title, str) and isinstance(body, str)
    body, body_html = _body(body, record.get("format"), line)
    title = normal_title(title)
    if not title:
        raise ImportFormatError("title is missing or empty", line)
    if len(title) > MAX_TITLE_CHARS:
        raise ImportFormatError(f"title is longer than {MAX_TITLE_CHARS} characters", line)
    if len(body) > MAX_BODY_CHARS:
        raise ImportFormatError(
            f"body is longer than {MAX_BODY_CHARS} characters: split the article", line
        )
    # Missing or null means none; any other value must have the right type, false included.
    questions = record.get("questions")
    questions = [] if questions is None else questions
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise ImportFormatError("questions must be a list of strings", line)
    long = next((q for q in questions if len(q.strip()) > MAX_PHRASING_CHARS), None)
    if long is not None:
        raise ImportFormatError(
            f"a question is longer than {MAX_PHRASING_CHARS} characters: {long[:40]!r}…", line
        )
    category = record.get("category")
    category = "" if category is None else category
    if not isinstance(category, str):
        raise ImportFormatError("category must be a string", line)
    if len(category.strip()) > MAX_CATEGORY_CHARS:
        raise ImportFormatError(f"category is longer than {MAX_CATEGORY_CHARS} characters", line)
    _check_characters(title, body, category, questions, line)
    cleaned = tuple(dict.fromkeys(q.strip() for q in questions if q.strip()))
    if body_html is not None and control_character(body_html, LAYOUT) is not None:
        raise ImportFormatError("body contains a control character: remove it", line)
    return ArticleDraft(
        title=title,
        body=body,
        questions=tuple(q for q in cleaned if normal_title(q) != title),
        category=category.strip(),
        body_html=body_html,
    )


def _body(written: str, fmt: Any, line: int | None) -> tuple[str, str | None]:
    """The article's plain text and, for `format: html`, its Telegram HTML."""
    if fmt is None or fmt == TEXT:
        return written.strip(), None
    if fmt != HTML:
        raise ImportFormatError(f'format must be "{TEXT}" or "{HTML}", not {fmt!r}', line)
    body_html = written.strip()
    try:
        body = plain_text(body_html)
    except TelegramHtmlError as error:
        raise ImportFormatError(f"body is not valid Telegram HTML: {error.reason}", line) from None
    if not body.strip():
        raise ImportFormatError("body is missing or empty", line)
    return body, body_html


def _check_characters(
    title: str, body: str, category: str, questions: Sequence[str], line: int | None
) -> None:
    """Refuse what no article can hold: a lone surrogate, or a control character (NUL, ESC…)
    anywhere but the line breaks and tabs of a body."""
    for name, value, allowed in (
        ("title", title, frozenset()),
        ("body", body, LAYOUT),
        ("category", category, frozenset()),
        *(("question", q, frozenset()) for q in questions),
    ):
        if _has_lone_surrogate(value):
            raise ImportFormatError(
                f"{name} contains an invalid character (a lone UTF-16 surrogate such as \\ud800)",
                line,
            )
        found = control_character(value, allowed)
        if found is not None:
            raise ImportFormatError(
                f"{name} contains a control character (U+{ord(found):04X}): remove it", line
            )


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _csv_cell(value: str) -> str:
    return "'" + value if _FORMULA.match(value) else value


def _csv_value(cell: str | None) -> str | None:
    return cell[1:] if cell and cell.startswith("'") and _FORMULA.match(cell) else cell


def _record(article: Article) -> dict[str, Any]:
    record: dict[str, Any] = {
        "title": article.title,
        "body": article.body if article.body_html is None else article.body_html,
        "questions": list(article.questions),
        "category": article.category,
    }
    if article.body_html is not None:
        record["format"] = HTML
    return record


def format_articles(articles: Sequence[Article], fmt: str) -> str:
    records = [_record(a) for a in articles]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if fmt == "yaml":
        return yaml.safe_dump(records, allow_unicode=True, sort_keys=False, width=100)
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for record in records:
            questions = record["questions"]
            if any(QUESTION_SEPARATOR in q for q in questions):
                raise ImportFormatError(
                    f"a question of {record['title']!r} contains '|', which CSV cannot keep; "
                    "export to JSONL or YAML instead"
                )
            row = {
                **record,
                "questions": QUESTION_SEPARATOR.join(questions),
                "format": record.get("format", ""),
            }
            writer.writerow({key: _csv_cell(value) for key, value in row.items()})
        return buffer.getvalue()
    raise ImportFormatError(f"unknown format {fmt!r}")


def write_articles(path: Path, articles: Sequence[Article]) -> None:
    path.write_text(format_articles(articles, detect_format(path)), encoding="utf-8")


def read_eval_set(path: Path, need_title: bool = True) -> list[EvalItem]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_no_constant)
        except json.JSONDecodeError as error:
            raise ImportFormatError(f"not valid JSON ({error.msg})", number) from None
        record = record if isinstance(record, dict) else {}
        query = record.get("query")
        title = record.get("title", None if need_title else "")
        if not isinstance(query, str) or not isinstance(title, str) or not query.strip():
            shape = '{"query": str, "title": str}' if need_title else '{"query": str}'
            raise ImportFormatError(f"{path.name}: each line must be {shape}", number)
        items.append(EvalItem(query.strip(), title.strip()))
    return items
