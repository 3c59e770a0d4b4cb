"""Parsing and writing of article files: every format, and the errors a user sees."""

from __future__ import annotations

import pytest

from knowledge_base.io import ImportFormatError, format_articles, parse_articles
from knowledge_base.repositories import Article, ArticleDraft


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
