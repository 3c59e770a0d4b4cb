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


SINGULAR = ("стал фразой статьи", "ею", "ждёт")
PLURAL = ("стали фразами статьи", "ими", "ждут")
# (count, the noun, the words that agree with it): the forms the walk through the bot met.
AGREEMENT = [
    (1, "1 вопрос", SINGULAR),
    (2, "2 вопроса", PLURAL),
    (5, "5 вопросов", PLURAL),
    (11, "11 вопросов", PLURAL),
    (21, "21 вопрос", SINGULAR),
    (22, "22 вопроса", PLURAL),
    (25, "25 вопросов", PLURAL),
]


@pytest.mark.parametrize(("count", "noun", "words"), AGREEMENT)
def test_a_verb_after_a_number_agrees_with_it(
    count: int, noun: str, words: tuple[str, str, str]
) -> None:
    from bot.texts import admin

    became, them, wait = words
    assert plural.agree(count, "стал", "стали") == became.split()[0]
    assert admin.attached_pending("VPN", count, 1, 1).startswith(
        f"Привязано к «VPN»: {noun} {became}, бот уже отвечает {them}. "
    )
    assert admin.attached("VPN", count, 1).startswith(f"Привязано к «VPN»: {noun} {became}, ")
    assert admin.undone("VPN", count) == (
        f"Привязка к «VPN» отменена: {noun} снова {wait} в /unanswered, "
        "никому ничего не отправлено."
    )


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (1, "первый 1 символ"),
        (2, "первые 2 символа"),
        (5, "первые 5 символов"),
        (11, "первые 11 символов"),
        (21, "первый 21 символ"),
        (22, "первые 22 символа"),
        (25, "первые 25 символов"),
    ],
)
def test_the_cut_question_note_agrees_with_its_limit(count: int, shown: str) -> None:
    from bot.texts import user

    assert user.truncated(count) == f"Вопрос очень длинный — я прочитал только {shown}."


@pytest.mark.parametrize(
    ("count", "them"),
    [(1, "её"), (2, "их"), (5, "их"), (11, "их"), (21, "её"), (22, "их"), (25, "их")],
)
def test_accepted_phrasings_are_referred_to_in_their_number(count: int, them: str) -> None:
    from bot.texts import admin

    assert admin.learned_all_done(True, count, 1).endswith(f"Поиск уже {them} учитывает.")
