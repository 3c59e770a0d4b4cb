"""The shared vocabulary: every band, source, status and record the layers hand each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from pathlib import Path


class Band(StrEnum):
    """How sure the bot is of the first article: answer with it, suggest, or know nothing."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    NOTHING = "nothing"


class PhrasingSource(StrEnum):
    """Where a phrasing of an article came from."""

    TITLE = "title"
    IMPORT = "import"
    ADMIN = "admin"
    # Questions people confirmed (a 👍, a picked suggestion, an inbox group attached): served
    # at once, in the learned channel of the index.
    FEEDBACK = "feedback"
    # A confirmed question waiting for an admin (auto-learning off): kept, never served.
    PENDING = "pending"
    # A confirmed question an admin rejected: kept, never served, and never queued again.
    REJECTED = "rejected"

    @property
    def served(self) -> bool:
        return self not in NOT_SERVED

    @property
    def learned(self) -> bool:
        """Served in the learned channel of the index, not the curated one."""
        return self is PhrasingSource.FEEDBACK


NOT_SERVED = frozenset({PhrasingSource.PENDING, PhrasingSource.REJECTED})


class PairSource(StrEnum):
    """Where a training pair comes from. Questions people asked (clicks, --pairs lines) may be
    held out for evaluation; the articles' own phrasings always train."""

    FEEDBACK = "feedback"
    PAIRS = "pairs"
    PHRASING = "phrasing"


class ModelStatus(StrEnum):
    """A registered model version's place in the history of what answered."""

    ACTIVE = "active"
    PREVIOUS = "previous"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    # Its files were deleted to free the disk (`faqbot models prune`); its numbers are kept.
    PRUNED = "pruned"


class Label(IntEnum):
    """A click under an answer."""

    HELPFUL = 1
    NOT_HELPFUL = -1


class FeedbackOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    # A button whose query does not exist or belongs to someone else: forged or stale.
    UNKNOWN_QUERY = "unknown_query"
    UNKNOWN_ARTICLE = "unknown_article"


class Learning(StrEnum):
    """What a confirmation (a 👍 or a picked suggestion) did to the article's phrasings."""

    # The question is now a phrasing of the article, served from the next question on.
    LEARNED = "learned"
    # It is a phrasing waiting for an admin's approval (auto-learning is off).
    PENDING = "pending"
    # Fewer distinct people than required have confirmed it so far.
    WAITING = "waiting"
    # The article already has this phrasing, or the question is not worth keeping.
    NOTHING = "nothing"


class InboxReason(StrEnum):
    """Why a question waits in the admins' inbox."""

    # The bot answered "don't know".
    NOTHING = "nothing"
    # The person pressed «Нет подходящего».
    NONE_FIT = "none_fit"
    # A 👎 not followed by a pick.
    NOT_HELPFUL = "not_helpful"


class InboxResolution(StrEnum):
    """How an admin took a question out of the inbox."""

    ATTACHED = "attached"
    DISMISSED = "dismissed"


class NoticeStatus(StrEnum):
    """Where the message telling people of an attached group stands: it waits out the undo
    period, went out (once: the database marks it before anyone is messaged), or was undone."""

    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"


class StoreFault(StrEnum):
    """Why the database refused a write that may succeed later."""

    # Another writer holds the lock (a backup, a migration, a long import) past the busy wait.
    LOCKED = "locked"
    # The disk (or the database's size limit) is full.
    FULL = "full"
    # The file or its folder is read-only.
    READ_ONLY = "read_only"


class ImportOutcome(StrEnum):
    """What an upsert by title did to an article."""

    ADDED = "added"
    UPDATED = "updated"
    SAME = "same"


class AuditAction(StrEnum):
    """What an admin did, as the audit log records it."""

    ADD = "add"
    EDIT_TITLE = "edit_title"
    EDIT_BODY = "edit_body"
    EDIT_CATEGORY = "edit_category"
    ARCHIVE = "archive"
    RESTORE = "restore"
    # An archived article deleted for good (its title kept in `before`).
    DELETE = "delete"
    ADD_PHRASING = "add_phrasing"
    DELETE_PHRASING = "delete_phrasing"
    APPROVE_PHRASING = "approve_phrasing"
    REJECT_PHRASING = "reject_phrasing"
    # Every question waiting for approval accepted (or rejected) at once; `after` holds how many.
    APPROVE_ALL = "approve_all"
    REJECT_ALL = "reject_all"
    IMPORT = "import"
    ROLLBACK = "rollback"
    # A model version was made the one that answers (from /model or «Включить всё равно»).
    ACTIVATE = "activate"
    # A /retrain ended: the new model answers, failed the check, or waits for the admin.
    TRAIN_PROMOTED = "train_promoted"
    TRAIN_REJECTED = "train_rejected"
    TRAIN_HELD = "train_held"
    ATTACH = "attach"
    DISMISS = "dismiss"
    # An attachment undone within its grace period: the questions are open again.
    DETACH = "detach"


@dataclass(frozen=True)
class ArticleDraft:
    """An article as a user writes it in an import file."""

    title: str
    body: str
    questions: tuple[str, ...] = ()
    category: str = ""
    # Set only by an admin writing in Telegram (see ArticleRow.body_html).
    body_html: str | None = None


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    body: str
    category: str
    archived: bool
    # Every phrasing but the title, in the order they were added.
    questions: tuple[str, ...] = ()
    # The body with an admin's Telegram formatting, when it was written in Telegram.
    body_html: str | None = None


@dataclass(frozen=True)
class Phrasing:
    id: int
    article_id: int
    text: str
    source: PhrasingSource


@dataclass(frozen=True)
class QueryRecord:
    """A logged question, as the bot answered it."""

    id: int
    user_id: int | None
    text: str
    article_id: int | None
    score: float
    band: Band
    model_version: str
    created_at: datetime


@dataclass(frozen=True)
class QuestionLog:
    """A question to log: what was asked, and what the bot made of it."""

    user_id: int | None
    text: str
    article_id: int | None
    score: float
    band: Band
    model_version: str
    # The Telegram update it came in ("telegram:<bot>:<update>"): logged once however often
    # the update is handled.
    message_key: str | None = None


@dataclass(frozen=True)
class Click:
    """A stored click with the question it answers: the raw material of a training pair."""

    query: str
    article_id: int
    label: Label


@dataclass(frozen=True)
class ModelVersion:
    name: str
    path: Path
    parent: str | None
    status: ModelStatus
    created_at: datetime
    activated_at: datetime | None
    metrics: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: int
    at: datetime
    # A plain string only for an action a newer version wrote.
    action: AuditAction | str
    article_id: int | None
    before: str
    after: str
    # The admin's first name and @username as Telegram gave them when they acted; None in
    # entries older than the names.
    actor_name: str | None = None
    actor_username: str | None = None
    # The article's title when the act was recorded; None in older entries, which have only
    # `current_title` (the title now, None if the article is gone).
    title: str | None = None
    current_title: str | None = None


# An article body recorded in an audit row (before/after of EDIT_BODY) as Telegram HTML: the
# marker, then the HTML. A body without formatting is recorded as it is, plain.
FORMATTED_BODY = "\x1etelegram-html\x1e"


def audit_body(body: str, body_html: str | None) -> str:
    """What the audit row of a body edit keeps of a body: its formatting, when it has one."""
    return body if body_html is None else FORMATTED_BODY + body_html


def formatted_body(recorded: str) -> str | None:
    """The Telegram HTML of a body recorded by `audit_body`; None for a plain one."""
    return recorded.removeprefix(FORMATTED_BODY) if recorded.startswith(FORMATTED_BODY) else None


@dataclass(frozen=True)
class Match:
    """An article ranked for a question, with the score a band judges."""

    article_id: int
    title: str
    score: float


@dataclass(frozen=True)
class Answer:
    band: Band
    score: float
    # The best article; set for every band when the base is not empty (for "nothing" it is
    # only the closest guess, logged for the admins, never shown).
    article: Article | None
    # Suggestions: for "suggest" the articles to offer, best first; otherwise the runners-up.
    alternatives: tuple[Match, ...]
    query_id: int | None
    model_version: str


@dataclass(frozen=True)
class OpenQuestion:
    """A question waiting in the admins' inbox."""

    query_id: int
    user_id: int | None
    text: str
    asked_at: datetime
    reason: InboxReason
