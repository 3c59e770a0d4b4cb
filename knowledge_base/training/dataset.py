"""The training set: confirmed questions, the articles' own phrasings, rejected articles."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.io import EvalItem
from knowledge_base.search.questions import question_key as normalize
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.feedback import FeedbackRepository
from knowledge_base.types import PairSource, PhrasingSource

# Questions people asked: these may be held out for evaluation.
USER_SOURCES = frozenset({PairSource.FEEDBACK, PairSource.PAIRS})


@dataclass(frozen=True)
class TrainingPair:
    query: str
    article_id: int
    title: str
    source: PairSource
    # Titles of articles a person rejected (👎) for this question.
    negatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingSet:
    pairs: list[TrainingPair]
    # --pairs lines whose title is no active article: counted, not fatal.
    unknown_titles: int = 0

    def count(self, sources: Iterable[PairSource]) -> int:
        wanted = set(sources)
        return sum(pair.source in wanted for pair in self.pairs)


@dataclass(frozen=True)
class Split:
    train: list[TrainingPair]
    held_out: list[TrainingPair]


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

    def add(text: str, article_id: int, source: PairSource) -> None:
        key = (normalize(text), article_id)
        if key[0] and key not in pairs:
            pairs[key] = TrainingPair(
                " ".join(text.split()), article_id, titles[article_id], source
            )

    for (key, article_id), votes in net.items():
        if votes > 0:
            add(spelling[key], article_id, PairSource.FEEDBACK)
    unknown = 0
    for item in extra:
        found = by_title.get(item.title)
        if found is None:
            unknown += 1
        else:
            add(item.query, found, PairSource.PAIRS)
    for phrasing in await articles.active_phrasings():
        if phrasing.source != PhrasingSource.TITLE:
            add(phrasing.text, phrasing.article_id, _pair_source(phrasing.source))

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
    training in every form (the same text as a phrasing, or for another article); a question
    confirmed for two articles is held out for one of them only.
    """
    rng = random.Random(seed)
    user = sorted(
        (p for p in pairs if p.source in USER_SOURCES), key=lambda p: (p.article_id, p.query)
    )
    texts: dict[int, list[str]] = defaultdict(list)
    articles_of: dict[str, set[int]] = defaultdict(set)
    for pair in user:
        text = normalize(pair.query)
        if text not in texts[pair.article_id]:
            texts[pair.article_id].append(text)
        articles_of[text].add(pair.article_id)
    for questions in texts.values():
        rng.shuffle(questions)
    quota = _quotas({a: len(q) for a, q in texts.items()}, share, rng)
    training_left = {a: len(q) for a, q in texts.items()}
    taken: dict[int, int] = defaultdict(int)
    held: dict[str, int] = {}  # held-out text -> the article it is scored against
    for article_id in sorted(texts):
        for text in texts[article_id]:
            if taken[article_id] >= quota[article_id]:
                break
            owners = articles_of[text]
            if text in held or any(training_left[a] <= 1 for a in owners):
                continue
            held[text] = article_id
            for owner in owners:
                training_left[owner] -= 1
                taken[owner] += 1
    held_out = [p for p in user if held.get(normalize(p.query)) == p.article_id]
    return _without(pairs, held_out)


def _quotas(sizes: dict[int, int], share: float, rng: random.Random) -> dict[int, int]:
    """How many questions each article gives: `share` of its own, largest remainders first
    until the overall share is reached, never all of them."""
    quota = {a: min(int(share * n), n - 1) for a, n in sizes.items()}
    wanted = round(share * sum(sizes.values()))
    order = sorted(sizes, key=lambda a: (-(share * sizes[a] - int(share * sizes[a])), rng.random()))
    for article_id in order:
        if sum(quota.values()) >= wanted:
            break
        if quota[article_id] < sizes[article_id] - 1:
            quota[article_id] += 1
    return quota


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
        TrainingPair(" ".join(item.query.split()), titles[item.title], item.title, PairSource.PAIRS)
        for item in items
        if item.title in titles and normalize(item.query)
    ]
    return found, len(items) - len(found)


def _pair_source(source: PhrasingSource) -> PairSource:
    # A learned phrasing is a question a person confirmed, not something an editor wrote.
    return PairSource.FEEDBACK if source.learned else PairSource.PHRASING
