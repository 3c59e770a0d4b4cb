"""Russian plural forms wherever a number meets a noun."""

from __future__ import annotations

import pytest

from bot.texts import plural


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 статей"),
        (1, "1 статья"),
        (2, "2 статьи"),
        (4, "4 статьи"),
        (5, "5 статей"),
        (11, "11 статей"),
        (12, "12 статей"),
        (14, "14 статей"),
        (21, "21 статья"),
        (22, "22 статьи"),
        (25, "25 статей"),
        (101, "101 статья"),
        (111, "111 статей"),
        (1004, "1004 статьи"),
    ],
)
def test_articles_take_the_right_form(count: int, shown: str) -> None:
    assert plural.articles(count) == shown


def test_other_nouns_follow_the_same_rule() -> None:
    assert [plural.questions(n) for n in (1, 3, 7)] == ["1 вопрос", "3 вопроса", "7 вопросов"]
    assert [plural.phrasings(n) for n in (1, 3, 7)] == ["1 фраза", "3 фразы", "7 фраз"]


def test_import_errors_reach_an_admin_in_russian_with_their_line() -> None:
    from bot.texts import admin

    assert admin.file_error("line 3: title is missing or empty") == (
        "Ошибка в строке 3: не заполнено поле title."
    )
    assert admin.file_error(
        "line 1: the CSV header must name at least the columns title and body"
    ).startswith("Ошибка в строке 1: в первой строке CSV должны быть столбцы title и body")
    assert admin.file_error("line 7: title 'VPN' repeats the one on line 2") == (
        "Ошибка в строке 7: такой заголовок уже есть в строке 2."
    )
    assert admin.file_error("line 2: not valid JSON (Expecting ',' delimiter)") == (
        "Ошибка в строке 2: не читается как JSON — проверьте кавычки, скобки и запятые."
    )
