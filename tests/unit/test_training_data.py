"""The training set, the held-out split and the thresholds, on a real migrated SQLite file."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.articles import ArticleService
from knowledge_base.evaluation import EvalReport, choose_thresholds
from knowledge_base.io import EvalItem
from knowledge_base.storage.articles import ArticleRepository
from knowledge_base.storage.feedback import FeedbackRepository
from knowledge_base.storage.queries import QueryRepository
from knowledge_base.training.dataset import (
    Split,
    TrainingPair,
    build_training_set,
    normalize,
    split_held_out,
)
from knowledge_base.training.pipeline import _held_out_reports
from knowledge_base.types import (
    ArticleDraft,
    Band,
    PairSource,
    Phrasing,
    PhrasingSource,
    QuestionLog,
)
from tests.fakes.encoders import TableEncoder

DRAFTS = [
    ArticleDraft("vpn", "how to vpn", ("как подключить vpn",)),
    ArticleDraft("password", "reset it", ("пароль забыл",)),
    ArticleDraft("logs", "kibana"),
    ArticleDraft("retired", "old"),
]


async def _click(session: AsyncSession, text: str, article_id: int, label: int, user: int) -> None:
    queries = QueryRepository(session)
    [(query_id, _)] = await queries.log_many(
        [QuestionLog(user, text, article_id, 0.9, Band.ANSWER, "m")]
    )
    await queries.add_offers(query_id, [article_id])
    await FeedbackRepository(session).add(
        query_id=query_id, article_id=article_id, label=label, user_id=user
    )


async def _seed(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        await ArticleService(session).import_drafts(DRAFTS)
        ids = {a.title: a.id for a in await ArticleRepository(session).all()}
        await _click(session, "Где логи?", ids["logs"], 1, 1)  # 👍
        await _click(session, "где   ЛОГИ?", ids["logs"], 1, 2)  # the same question again
        await _click(session, "не работает впн", ids["password"], -1, 3)  # 👎 on a wrong answer
        await _click(session, "не работает впн", ids["vpn"], 1, 3)  # then picked the right one
        await _click(session, "спорный вопрос", ids["vpn"], 1, 4)
        await _click(session, "спорный вопрос", ids["vpn"], -1, 5)  # one 👍 and one 👎: no pair
        await _click(session, "про архив", ids["retired"], 1, 6)
        await ArticleRepository(session).archive(ids["retired"])
        await session.commit()
    return ids


async def test_training_set_takes_confirmed_clicks_phrasings_and_rejections(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _seed(session_factory)
    extra = [EvalItem("как сменить пароль", "password"), EvalItem("что-то", "no such title")]
    async with session_factory() as session:
        found = await build_training_set(session, extra)
    pairs = {(p.query, p.title, p.source, p.negatives) for p in found.pairs}
    assert pairs == {
        ("Где логи?", "logs", PairSource.FEEDBACK, ()),  # the two spellings are one pair
        ("не работает впн", "vpn", PairSource.FEEDBACK, ("password",)),  # 👎 became a hard negative
        ("как сменить пароль", "password", PairSource.PAIRS, ()),
        ("как подключить vpn", "vpn", PairSource.PHRASING, ()),
        ("пароль забыл", "password", PairSource.PHRASING, ()),
    }
    # Titles are not pairs of themselves, a tie of votes teaches nothing, archived articles
    # are out, and an unknown title is counted.
    assert found.unknown_titles == 1
    assert all(p.article_id in ids.values() and p.article_id != ids["retired"] for p in found.pairs)


def _questions(per_article: dict[int, int]) -> list[TrainingPair]:
    return [
        TrainingPair(f"question {n} about {article}", article, f"title {article}", PairSource.PAIRS)
        for article, count in per_article.items()
        for n in range(count)
    ] + [
        TrainingPair(f"phrasing of {a}", a, f"title {a}", PairSource.PHRASING) for a in per_article
    ]


def test_held_out_split_is_stratified_seeded_and_keeps_every_article_trained() -> None:
    per_article = {1: 1, 2: 2, 3: 5, 4: 10, 5: 3, 6: 4}
    pairs = _questions(per_article)
    split = split_held_out(pairs, share=0.2, seed=42)
    held = Counter(p.article_id for p in split.held_out)
    trained = Counter(p.article_id for p in split.train if p.source == PairSource.PAIRS)
    assert len(split.held_out) == round(0.2 * sum(per_article.values()))
    assert held[1] == 0, "an article with one question keeps it for training"
    assert held[4] == 2, "an article with ten questions gives two"
    assert all(trained[a] >= 1 for a in per_article)
    assert all(p.source == PairSource.PAIRS for p in split.held_out), "phrasings are never held out"
    held_texts = {normalize(p.query) for p in split.held_out}
    assert not held_texts & {normalize(p.query) for p in split.train}
    assert split_held_out(pairs, 0.2, 42) == split
    assert split_held_out(pairs, 0.2, 7).held_out != split.held_out


# Unit vectors; the same text gets the same vector as query and phrasing.
_TABLE = {"где логи": [1.0, 0.0], "logs": [0.6, 0.8], "metrics": [0.8, 0.6]}


def test_a_held_out_question_stored_as_a_phrasing_is_not_found_through_itself() -> None:
    phrasings = [
        Phrasing(1, 10, "logs", PhrasingSource.TITLE),
        Phrasing(
            2, 10, "где логи", PhrasingSource.FEEDBACK
        ),  # the held-out question, learned earlier
        Phrasing(3, 20, "metrics", PhrasingSource.TITLE),
    ]
    encoder = TableEncoder("table", _TABLE)
    vectors = encoder.encode_documents([p.text for p in phrasings])
    held = TrainingPair("где логи", 10, "logs", PairSource.FEEDBACK)
    [report] = _held_out_reports(encoder, phrasings, vectors, Split([], [held]), 5, [0.0]).values()  # type: ignore[arg-type]
    # With its stored copy the question would score 1.0 on the right article; without it the
    # titles decide, and "metrics" (0.8) beats "logs" (0.6).
    assert report.top1 == 0.0
    assert report.wrong_scores == [np.float32(0.8)]


def _report(right: list[float], wrong: list[float]) -> EvalReport:
    n = len(right) + len(wrong)
    return EvalReport(n, len(right) / n, 1.0, 1.0, 0, right, wrong)


def test_thresholds_reach_the_precision_target_and_keep_most_right_answers() -> None:
    right = [0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.89, 0.88, 0.80, 0.75, 0.70]
    wrong = [0.935, 0.85, 0.84, 0.83, 0.60]
    answer, suggest = choose_thresholds(_report(right, wrong), 0.9) or (0.0, 0.0)
    passing_right = sum(s >= answer for s in right)
    passing = passing_right + sum(s >= answer for s in wrong)
    assert passing_right / passing >= 0.9
    # 0.88 passes nine right and one wrong: the lowest threshold right nine times in ten.
    assert answer == 0.88
    assert suggest <= answer
    assert sum(s >= suggest for s in right) >= 0.85 * len(right)
    assert suggest == 0.75


def test_thresholds_are_not_chosen_from_a_handful_of_questions() -> None:
    assert choose_thresholds(_report([0.9, 0.8], [0.7]), 0.9) is None


def test_no_direct_answers_when_the_best_scores_are_wrong() -> None:
    right = list(np.linspace(0.5, 0.8, 10))
    wrong = [0.99, 0.98]
    answer, _ = choose_thresholds(_report(right, wrong), 0.9) or (0.0, 0.0)
    assert 0.99 < answer <= 0.991, "just above the best score"


def test_the_answer_threshold_never_exceeds_a_cosines_maximum() -> None:
    right = [0.5 + 0.01 * n for n in range(10)]
    # The best first answers, word for word another article's phrasing, are wrong.
    assert (choose_thresholds(_report(right, [1.0, 0.9995]), 0.9) or (0.0, 0.0))[0] == 1.0
    # Questions whose article is missing score 1.0 on another one.
    report = EvalReport(10, 1.0, 1.0, 1.0, 0, right, [], without_gold_scores=[1.0] * 10)
    assert (choose_thresholds(report, 0.9) or (0.0, 0.0))[0] == 1.0


def test_a_threshold_is_stored_rounded_down_so_every_score_that_passed_it_still_passes() -> None:
    right = [0.91005 + 0.01 * n for n in range(10)]  # all right: the lowest is the threshold
    answer, suggest = choose_thresholds(_report(right, []), 0.9) or (0.0, 0.0)
    assert answer == 0.91, "0.91005 rounded down, not to the nearer 0.9101"
    assert suggest == 0.91, "capped by the exact answer threshold, then rounded down alike"


def test_thresholds_keep_most_questions_without_their_article_from_a_direct_answer() -> None:
    right = [0.9 - 0.01 * i for i in range(12)]
    # Everything the model answers first is right, but a question whose article is missing
    # still scores up to 0.85 on some other article: the bot must not answer those directly.
    without_gold = [0.85, 0.84, 0.6, 0.55, 0.5, 0.5, 0.45, 0.4, 0.4, 0.3, 0.3, 0.2]
    report = EvalReport(12, 1.0, 1.0, 1.0, 0, right, [], without_gold_scores=without_gold)
    answer, suggest = choose_thresholds(report, 0.9) or (0.0, 0.0)
    assert sum(s >= answer for s in without_gold) <= 0.1 * len(without_gold)
    assert 0.84 < answer <= 0.8501
    assert suggest <= answer
    # Without that guard every right answer would pass, down to the lowest.
    plain = EvalReport(12, 1.0, 1.0, 1.0, 0, right, [])
    assert (choose_thresholds(plain, 0.9) or (0.0, 0.0))[0] == round(min(right), 4)


def test_a_question_confirmed_for_two_articles_is_held_out_once() -> None:
    shared = "где взять доступ"
    pairs = [
        TrainingPair(shared, 1, "a", PairSource.PAIRS),
        TrainingPair(shared, 2, "b", PairSource.PAIRS),
        TrainingPair("x", 2, "b", PairSource.PAIRS),
        TrainingPair("y", 1, "a", PairSource.PAIRS),
        TrainingPair("z", 1, "a", PairSource.PAIRS),
    ]
    for seed in range(20):
        split = split_held_out(pairs, share=0.4, seed=seed)
        held = [p.query for p in split.held_out]
        assert len(held) == len(set(held)), "scored against two articles, one is bound to miss"
        trained = Counter(p.article_id for p in split.train)
        assert trained[1] >= 1 and trained[2] >= 1, f"seed {seed}: an article lost all questions"
