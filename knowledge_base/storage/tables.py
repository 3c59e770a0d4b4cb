"""ORM tables of the knowledge base (the word "model" is kept for the ML model)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ArticleRow(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), unique=True)
    body: Mapped[str] = mapped_column(Text)
    # The body as an admin formatted it in Telegram (bold, links, code): Telegram HTML built
    # from the message's entities, never a person's raw HTML. NULL: plain text (imports).
    body_html: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100), default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class PhrasingRow(Base):
    __tablename__ = "phrasings"
    __table_args__ = (UniqueConstraint("article_id", "text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    # title | admin | import | feedback
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QueryRow(Base):
    __tablename__ = "queries"
    __table_args__ = (Index("uq_queries_message_key", "message_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(10), index=True)
    model_version: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    # The transport's id of the message that asked ("telegram:<bot>:<update>"): a message
    # handled again after a crash is logged once.
    message_key: Mapped[str | None] = mapped_column(String(64))
    # True once the articles offered for it are in query_offers (older queries have none).
    offers_recorded: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    # One row per distinct click: a double tap on a button must not count twice. NULL article
    # ("none fit") is folded to 0 because SQL treats NULLs as distinct in a unique index.
    __table_args__ = (
        Index(
            "uq_feedback_click",
            "query_id",
            func.coalesce(text("article_id"), 0),
            "label",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("queries.id", ondelete="CASCADE"), index=True)
    # NULL with label -1: "none of these fit" for the whole query.
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    label: Mapped[int] = mapped_column(SmallInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EmbeddingRow(Base):
    __tablename__ = "embeddings"
    __table_args__ = (
        UniqueConstraint("phrasing_id", "model_version"),
        Index("ix_embeddings_model_version", "model_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phrasing_id: Mapped[int] = mapped_column(ForeignKey("phrasings.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(100))
    # float32, little-endian, L2-normalised
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class ModelVersionRow(Base):
    """A model that served or may serve: a base model or a trained version under models/."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The directory name under models/ (a base model: base/<name>).
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Relative to the models directory when inside it, so the project folder can move.
    path: Mapped[str] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(String(100))
    # active | previous | rejected | rolled_back
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # metrics.json of the version: data sizes, hyper-parameters, before/after, thresholds.
    metrics: Mapped[str] = mapped_column(Text, default="{}")


class AuditRow(Base):
    """Who changed what in the base, when, and how it was before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # add | edit_title | edit_body | archive | restore | add_phrasing | delete_phrasing | import
    action: Mapped[str] = mapped_column(String(30))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    # Who acted and the article's title, as they were at the time; NULL in rows written before
    # the names were kept.
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_username: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)


class QueryOfferRow(Base):
    """An article the bot offered for a query (the answer, a suggestion, a follow-up after 👎):
    only these can be confirmed with 👍 or a pick."""

    __tablename__ = "query_offers"

    query_id: Mapped[int] = mapped_column(
        ForeignKey("queries.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )


class InboxResolutionRow(Base):
    """A question taken out of the admins' inbox: attached to an article, or dismissed."""

    __tablename__ = "inbox_resolutions"

    query_id: Mapped[int] = mapped_column(
        ForeignKey("queries.id", ondelete="CASCADE"), primary_key=True
    )
    # attached | dismissed
    status: Mapped[str] = mapped_column(String(20))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxNoticeRow(Base):
    """The people to tell that their questions were attached to an article, waiting out the
    admin's undo period; sent by whichever process marks it sent first."""

    __tablename__ = "inbox_notices"
    __table_args__ = (Index("ix_inbox_notices_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    # JSON: the attached query ids, the phrasings the attachment added (what an undo takes
    # back), and [user, query, question] for each person to tell.
    query_ids: Mapped[str] = mapped_column(Text)
    phrasings: Mapped[str] = mapped_column(Text)
    people: Mapped[str] = mapped_column(Text)
    # pending | sent | cancelled
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The admin's confirmation with «Отменить», edited once the people are told.
    confirm_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    confirm_message_id: Mapped[int | None] = mapped_column(BigInteger)


class AdminDigestRow(Base):
    """An admin's digest: whether they want it, and the last question and feedback it covered
    (ids, so a restart or a second process neither repeats nor loses an event)."""

    __tablename__ = "admin_digests"

    admin_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_query_id: Mapped[int] = mapped_column(Integer, default=0)
    seen_feedback_id: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
