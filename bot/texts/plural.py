"""Russian plural forms: «1 статья», «3 статьи», «5 статей», «21 статья», «11 статей»."""

from __future__ import annotations


def plural(count: int, one: str, few: str, many: str) -> str:
    """The form of a noun after `count`: `one` (1, 21, 101), `few` (2–4, 22–24), `many`
    (0, 5–20, 25–30, 11–14 and every other case)."""
    tens, units = abs(count) % 100, abs(count) % 10
    if units == 1 and tens != 11:
        return one
    if 2 <= units <= 4 and not 12 <= tens <= 14:
        return few
    return many


def count_of(count: int, one: str, few: str, many: str) -> str:
    """«3 статьи»: the number and the noun in its form."""
    return f"{count} {plural(count, one, few, many)}"


def articles(count: int) -> str:
    return count_of(count, "статья", "статьи", "статей")


def questions(count: int) -> str:
    return count_of(count, "вопрос", "вопроса", "вопросов")


def phrasings(count: int) -> str:
    return count_of(count, "фраза", "фразы", "фраз")


def agree(count: int, one: str, other: str) -> str:
    """A verb, adjective or pronoun agreeing with `count` of something: «1 вопрос стал»,
    «21 вопрос стал», but «2 вопроса стали», «5 вопросов стали». Russian takes the singular
    exactly where the noun does (1, 21, 101 …) and the plural everywhere else."""
    return one if plural(count, "one", "few", "many") == "one" else other
