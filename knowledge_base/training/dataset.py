"""The training set: confirmed questions, the articles' own phrasings, rejected articles."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.io import EvalItem
from knowledge_base.repositories import TITLE_SOURCE, ArticleRepository, FeedbackRepository

# Where a pair comes from. Questions people asked (clicks, --pairs lines) may be held out for
# evaluation; the articles' own phrasings always train.
FEEDBACK = "feedback"
PAIRS = "pairs"
PHRASING = "phrasing"
USER_SOURCES = frozenset({FEEDBACK, PAIRS})
# A learned phrasing is a question a person confirmed, not something an editor wrote.
_PHRASING_SOURCES = {"feedback": FEEDBACK}


@dataclass(frozen=True)
class TrainingPair:
    query: str
    article_id: int
    title: str
    source: str
    # Titles of articles a person rejected (👎) for this question.
    negatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingSet:
    pairs: list[TrainingPair]
    # --pairs lines whose title is no active article: counted, not fatal.
    unknown_titles: int = 0

    def count(self, sources: Iterable[str]) -> int:
        wanted = set(sources)
        return sum(pair.source in wanted for pair in self.pairs)


@dataclass(frozen=True)
class Split:
    train: list[TrainingPair]
    held_out: list[TrainingPair]


def normalize(text: str) -> str:
    """The form in which two questions count as the same one."""
    return " ".join(text.split()).casefold()


async def build_training_set(session: AsyncSession, extra: Sequence[EvalItem] = ()) -> TrainingSet:
    """Every (question, article) pair the base has to teach, deduplicated.

    - a 👍 or a picked suggestion (a pick counts as 👍), netted against 👎 on the same pair;
    - `extra` lines ({"query", "title"}, as in evaluation files);
    - the phrasings of each active article, except its title.
    A 👎 on an article makes it a hard negative of that question.
    """
    articles = ArticleRepository(session)
    titles = {article.id: article.title for article in await articles.all()}
    by_title = {title: article_id for article_id, title in titles.items()}
    net: dict[tuple[str, int], int] = defaultdict(int)
    spelling: dict[str, str] = {}
    for click in await FeedbackRepository(session).clicks_on_active_articles():
        key = normalize(click.query)
        spelling.setdefault(key, " ".join(click.query.split()))
        net[key, click.article_id] += click.label

    pairs: dict[tuple[str, int], TrainingPair] = {}

    def add(text: str, article_id: int, source: str) -> None:
        key = (normalize(text), article_id)
        if key[0] and key not in pairs:
            pairs[key] = TrainingPair(
                " ".join(text.split()), article_id, titles[article_id], source
            )

    for (key, article_id), votes in net.items():
        if votes > 0:
            add(spelling[key], article_id, FEEDBACK)
    unknown = 0
    for item in extra:
        found = by_title.get(item.title)
        if found is None:
            unknown += 1
        else:
            add(item.query, found, PAIRS)
    for phrasing in await articles.active_phrasings():
        if phrasing.source != TITLE_SOURCE:
            add(
                phrasing.text, phrasing.article_id, _PHRASING_SOURCES.get(phrasing.source, PHRASING)
            )

    rejected: dict[str, set[str]] = defaultdict(set)
    for (key, article_id), votes in net.items():
        if votes < 0:
            rejected[key].add(titles[article_id])
    with_negatives = [
        replace(pair, negatives=tuple(sorted(rejected[key[0]] - {pair.title})))
        if key[0] in rejected
        else pair
        for key, pair in pairs.items()
    ]
    return TrainingSet(with_negatives, unknown)


def split_held_out(pairs: Sequence[TrainingPair], share: float, seed: int) -> Split:
    """Hold out a seeded share of the questions people asked, stratified by article.

    Each article gives about `share` of its questions and keeps at least one for training, so
    an article with a single question is never held out. A held-out question is removed from
    training in every form (the same text as a phrasing, or for another article).
    """
    rng = random.Random(seed)
    by_article: dict[int, list[TrainingPair]] = defaultdict(list)
    for pair in sorted(pairs, key=lambda p: (p.article_id, p.query)):
        if pair.source in USER_SOURCES:
            by_article[pair.article_id].append(pair)
    for questions in by_article.values():
        rng.shuffle(questions)
    total = sum(len(questions) for questions in by_article.values())
    quota = {a: min(int(share * len(q)), len(q) - 1) for a, q in by_article.items()}
    # Largest remainder first (ties in a seeded order) until the overall share is reached.
    order = sorted(
        by_article,
        key=lambda a: (
            -(share * len(by_article[a]) - int(share * len(by_article[a]))),
            rng.random(),
        ),
    )
    wanted = round(share * total)
    for article_id in order:
        if sum(quota.values()) >= wanted:
            break
        if quota[article_id] < len(by_article[article_id]) - 1:
            quota[article_id] += 1
    held_out = [p for a, questions in by_article.items() for p in questions[: quota[a]]]
    return _without(pairs, held_out)


def split_with_test_set(pairs: Sequence[TrainingPair], test: Sequence[TrainingPair]) -> Split:
    """An explicit test set: all of it is held out, and none of its questions trains."""
    return _without(pairs, test)


def _without(pairs: Sequence[TrainingPair], held_out: Sequence[TrainingPair]) -> Split:
    held_texts = {normalize(p.query) for p in held_out}
    train = [p for p in pairs if normalize(p.query) not in held_texts]
    return Split(train, list(held_out))


def pairs_from_items(
    items: Sequence[EvalItem], titles: dict[str, int]
) -> tuple[list[TrainingPair], int]:
    """Evaluation lines as pairs of the active base; lines with an unknown title are counted."""
    found = [
        TrainingPair(" ".join(item.query.split()), titles[item.title], item.title, PAIRS)
        for item in items
        if item.title in titles and normalize(item.query)
    ]
    return found, len(items) - len(found)
