"""Parsing and writing of article files: every format, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.io import (
    ImportFormatError,
    decode_text,
    format_articles,
    parse_articles,
    read_articles,
)
from knowledge_base.types import Article, ArticleDraft


def test_jsonl_needs_only_title_and_body() -> None:
    drafts = parse_articles('{"title": "Отпуск", "body": "Шаги"}\n\n', "jsonl")
    assert drafts == [ArticleDraft("Отпуск", "Шаги", (), "")]


def test_csv_questions_are_split_on_the_bar() -> None:
    text = 'title,body,questions,category\nVPN,"Шаг 1\nШаг 2",впн не работает| как подключить ,IT\n'
    [draft] = parse_articles(text, "csv")
    assert draft.questions == ("впн не работает", "как подключить")
    assert draft.body == "Шаг 1\nШаг 2"


@pytest.mark.parametrize(
    ("fmt", "text", "line", "reason"),
    [
        ("jsonl", '{"title": "a", "body": "b"}\n{"title": "c"}\n', 2, "body"),
        ("jsonl", '{"title": "a", "body": "b"}\n\n{oops\n', 3, "JSON"),
        ("jsonl", '{"title": "a", "body": "b", "questions": "x"}\n', 1, "questions"),
        ("jsonl", '{"title": "a", "body": "b", "typo": 1}\n', 1, "typo"),
        ("jsonl", '{"title": "a", "body": "b"}\n{"title": "a", "body": "c"}\n', 2, "repeats"),
        ("yaml", "- title: a\n  body: b\n- title: c\n  body: ''\n", 3, "body"),
        ("csv", "title,body\na,b\n,c\n", 3, "title"),
    ],
)
def test_a_malformed_record_is_reported_with_its_line(
    fmt: str, text: str, line: int, reason: str
) -> None:
    with pytest.raises(ImportFormatError) as error:
        parse_articles(text, fmt)
    assert error.value.line == line
    assert reason in str(error.value)


@pytest.mark.parametrize("fmt", ["jsonl", "yaml", "csv"])
def test_every_format_round_trips(fmt: str) -> None:
    articles = [
        Article(1, "Как оформить отпуск", "1. Заявление\n2. Подпись", "HR", False, ("отпуск?",)),
        Article(2, 'VPN "Cisco", запятые', "Текст: с двоеточием", "", False, ()),
    ]
    drafts = parse_articles(format_articles(articles, fmt), fmt)
    assert drafts == [ArticleDraft(a.title, a.body, a.questions, a.category) for a in articles]


def test_unanswerable_questions_need_no_title(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from knowledge_base.io import read_eval_set

    path = tmp_path / "negatives.jsonl"
    path.write_text('{"query": "рецепт борща"}\n{"query": "погода", "title": "x"}\n', "utf-8")
    assert [i.query for i in read_eval_set(path, need_title=False)] == ["рецепт борща", "погода"]
    with pytest.raises(ImportFormatError) as error:
        read_eval_set(path)
    assert error.value.line == 1


NESTED = '{"title": "a", "body": "b", "questions": ' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize(
    ("name", "fmt", "data", "line", "reason"),
    [
        ("deeply nested JSON", "jsonl", NESTED.encode(), 1, "nested too deeply"),
        (
            "a lone surrogate",
            "jsonl",
            b'{"title": "ok", "body": "b"}\n{"title": "bad \\ud800", "body": "b"}\n',
            2,
            "surrogate",
        ),
        (
            "binary bytes",
            "jsonl",
            b'{"title": "a", "body": "b"}\n\x00\x01\xd0\xff\xfe PK\x03\x04',
            2,
            "neither UTF-8 nor Windows-1251",
        ),
        (
            "a body in HTML that Telegram refuses",
            "jsonl",
            b'{"title": "a", "body": "b"}\n{"title": "c", "body": "<b>d", "format": "html"}',
            2,
            "not valid Telegram HTML: <b> is not closed",
        ),
        (
            "an unknown format",
            "yaml",
            b"- title: a\n  body: b\n  format: markdown\n",
            1,
            'format must be "text" or "html"',
        ),
        (
            "questions: false",
            "jsonl",
            b'{"title": "a", "body": "b", "questions": false}',
            1,
            "questions must be a list",
        ),
        (
            "category: 0",
            "jsonl",
            b'{"title": "a", "body": "b", "category": 0}',
            1,
            "category must be a string",
        ),
        ("body: false", "jsonl", b'{"title": "a", "body": false}', 1, "body must be text"),
        (
            "a 500-character category",
            "jsonl",
            ('{"title": "a", "body": "b", "category": "' + "к" * 500 + '"}').encode(),
            1,
            "category is longer than 100",
        ),
        (
            "a YAML key twice",
            "yaml",
            b"- title: a\n  body: b\n- title: c\n  body: d\n  body: e\n",
            5,
            "appears twice",
        ),
        (
            "a YAML date as title",
            "yaml",
            b"- title: 2024-01-01\n  body: b\n",
            1,
            "title must be text, not date",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else "",
)
def test_a_bad_import_file_is_refused_with_its_line_and_a_clear_reason(
    name: str, fmt: str, data: bytes, line: int, reason: str, tmp_path: Path
) -> None:
    path = tmp_path / f"articles.{fmt}"
    path.write_bytes(data)
    with pytest.raises(ImportFormatError) as error:
        read_articles(path)
    assert error.value.line == line, name
    assert reason in error.value.reason, (name, error.value.reason)


def test_csv_export_neutralises_formulas_and_imports_them_back_unchanged() -> None:
    tricky = [
        Article(1, '=HYPERLINK("http://evil")', "+1+1", "@SUM(A1)", False, ("-2", "'quoted")),
        Article(2, "'=already quoted", "'Tis the season", "", False, ()),
    ]
    text = format_articles(tricky, "csv")
    for cell in ("=HYPERLINK", "+1+1", "@SUM"):
        assert f",{cell}" not in text and not text.startswith(cell)
    assert "'=HYPERLINK" in text
    again = parse_articles(text, "csv")
    assert again == [ArticleDraft(a.title, a.body, a.questions, a.category) for a in tricky]


def test_a_leading_quote_in_a_hand_written_csv_is_kept() -> None:
    [draft] = parse_articles("title,body\n'Tis the season,'quoted body\n", "csv")
    assert (draft.title, draft.body) == ("'Tis the season", "'quoted body")


def test_a_yaml_key_python_cannot_hash_is_refused_clearly() -> None:
    with pytest.raises(ImportFormatError, match="not a list of articles"):
        parse_articles("- title: a\n  body: b\n  ? [x]\n  : y\n", "yaml")


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("NUL in a title", '{"title": "a\\u0000b", "body": "b"}', 1, "title contains a control"),
        ("ESC in a body", '{"title": "a", "body": "b\\u001b[31m"}', 1, "body contains a control"),
        (
            "NUL in a question",
            '{"title": "a", "body": "b"}\n{"title": "c", "body": "d", "questions": ["x\\u0000"]}',
            2,
            "question contains a control",
        ),
        (
            "a title again behind a zero-width space",
            '{"title": "Дубль", "body": "b"}\n{"title": "Дубль\\u200b", "body": "c"}',
            2,
            "repeats the one on line 1",
        ),
        (
            "a title again in another Unicode form",
            '{"title": "Ёлка", "body": "b"}\n{"title": "Е\\u0308лка", "body": "c"}',
            2,
            "repeats the one on line 1",
        ),
        (
            "a 1,001-character question",
            '{"title": "a", "body": "b", "questions": ["' + "я" * 1001 + '"]}',
            1,
            "longer than 1000 characters",
        ),
        ("a 16,001-character body", '{"title": "a", "body": "' + "я" * 16_001 + '"}', 1, "16000"),
    ],
)
def test_what_no_article_can_hold_is_refused_with_its_line(
    name: str, text: str, line: int, reason: str
) -> None:
    with pytest.raises(ImportFormatError) as error:
        parse_articles(text, "jsonl")
    assert error.value.line == line, name
    assert reason in str(error.value), name


def test_a_body_keeps_its_line_breaks_and_tabs_and_a_title_loses_zero_width_characters() -> None:
    [draft] = parse_articles(
        '{"title": "\\u200bVPN\\ufeff", "body": "1.\\tшаг\\r\\n2. шаг"}', "jsonl"
    )
    assert (draft.title, draft.body) == ("VPN", "1.\tшаг\r\n2. шаг")


def test_a_nan_in_a_jsonl_file_is_named_as_not_json_and_says_nothing_of_yaml() -> None:
    with pytest.raises(ImportFormatError) as error:
        parse_articles('{"title": NaN, "body": "b"}', "jsonl")
    assert "NaN is not a JSON value" in str(error.value)
    assert "YAML" not in str(error.value)


def test_a_yaml_merge_key_imports_with_the_keys_written_beside_it_winning() -> None:
    text = "- &base\n  title: A\n  body: общий текст\n  category: IT\n- <<: *base\n  title: B\n"
    assert parse_articles(text, "yaml") == [
        ArticleDraft("A", "общий текст", (), "IT"),
        ArticleDraft("B", "общий текст", (), "IT"),
    ]


FORMATTED = Article(
    1,
    "Как сменить пароль",
    "Откройте портал & нажмите «Сменить». Код <b> не нужен: id-123.",
    "IT",
    False,
    ("забыл пароль",),
    '<b>Откройте портал</b> &amp; <a href="https://id.example.com/?a=1&b=2">нажмите</a> '
    "«Сменить». Код &lt;b&gt; не нужен: <code>id-123</code>.",
)
PLAIN = Article(2, "Отпуск", "Заявление, подпись", "", False, ())


@pytest.mark.parametrize("fmt", ["jsonl", "yaml", "csv"])
def test_a_formatted_article_is_exported_as_html_and_imports_back_with_its_formatting(
    fmt: str,
) -> None:
    text = format_articles([FORMATTED, PLAIN], fmt)
    assert FORMATTED.body_html is not None
    assert "<code>id-123</code>" in text and "https://id.example.com/?a=1&b=2" in text
    assert parse_articles(text, fmt) == [
        ArticleDraft(a.title, a.body, a.questions, a.category, a.body_html)
        for a in (FORMATTED, PLAIN)
    ]


def test_jsonl_marks_only_formatted_articles_with_format_html() -> None:
    first, second = format_articles([FORMATTED, PLAIN], "jsonl").splitlines()
    assert '"format": "html"' in first
    assert "format" not in second


def test_a_file_without_format_or_with_format_text_is_plain_text() -> None:
    text = (
        '{"title": "a", "body": "<b>x</b> & y"}\n'
        '{"title": "b", "body": "<b>x</b> & y", "format": "text"}\n'
    )
    assert [(d.body, d.body_html) for d in parse_articles(text, "jsonl")] == [
        ("<b>x</b> & y", None),
        ("<b>x</b> & y", None),
    ]


def test_a_csv_export_starts_with_a_bom_and_has_a_format_column() -> None:
    text = format_articles([FORMATTED, PLAIN], "csv")
    assert text.startswith("\ufefftitle,body,questions,category,format\r\n")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_a_semicolon_separated_csv_as_excel_writes_it_imports() -> None:
    text = "title;body;questions;category\r\nVPN;Шаг 1, потом шаг 2;впн|vpn;IT\r\n"
    assert parse_articles(text, "csv") == [
        ArticleDraft("VPN", "Шаг 1, потом шаг 2", ("впн", "vpn"), "IT")
    ]


def test_a_windows_1251_csv_from_excel_imports() -> None:
    data = "title;body\r\nОтпуск;Заявление — у кадровика\r\n".encode("cp1251")
    assert parse_articles(decode_text(data), "csv") == [
        ArticleDraft("Отпуск", "Заявление — у кадровика")
    ]


def test_a_utf8_file_with_a_bom_still_imports() -> None:
    data = "\ufefftitle,body\nОтпуск,Заявление\n".encode()
    assert parse_articles(decode_text(data), "csv") == [ArticleDraft("Отпуск", "Заявление")]


def test_latin_bytes_that_are_not_utf8_are_refused_not_read_as_cp1251() -> None:
    with pytest.raises(ImportFormatError, match="neither UTF-8 nor Windows-1251"):
        decode_text(b"title,body\nCaf\xe9,ok\x00\n")
