"""`faqbot eval --learned-after N [--learned-every-other]`: which questions of an evaluation
base are loaded as curated phrasings and which as learned ones (the fairness evaluation)."""

from __future__ import annotations

from bot.cli.evaluation import split_learned
from knowledge_base.types import ArticleDraft

DRAFTS = [
    ArticleDraft(f"Статья {n}", "Текст", questions=(f"{n}a", f"{n}b", f"{n}c")) for n in range(4)
]


def _questions(drafts: list[ArticleDraft]) -> list[tuple[str, tuple[str, ...]]]:
    return [(d.title, d.questions) for d in drafts]


def test_without_learned_after_every_question_is_curated() -> None:
    curated, learned = split_learned(DRAFTS, None, every_other=False)
    assert curated == DRAFTS and learned == []


def test_after_n_the_first_n_questions_are_curated_and_the_rest_learned() -> None:
    curated, learned = split_learned(DRAFTS, 1, every_other=False)
    assert _questions(curated) == [(f"Статья {n}", (f"{n}a",)) for n in range(4)]
    assert _questions(learned) == [(f"Статья {n}", (f"{n}b", f"{n}c")) for n in range(4)]


def test_every_other_article_gets_learned_phrasings_the_others_none() -> None:
    curated, learned = split_learned(DRAFTS, 2, every_other=True)
    assert _questions(curated) == [(f"Статья {n}", (f"{n}a", f"{n}b")) for n in range(4)]
    # The 1st and 3rd articles carry learned phrasings; the 2nd and 4th only their curated.
    assert _questions(learned) == [("Статья 0", ("0c",)), ("Статья 2", ("2c",))]
