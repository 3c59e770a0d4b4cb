"""Initial schema: articles, phrasings, queries, feedback, embeddings.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("title", name=op.f("uq_articles_title")),
    )
    op.create_table(
        "phrasings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_phrasings_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phrasings")),
        sa.UniqueConstraint("article_id", "text", name=op.f("uq_phrasings_article_id")),
    )
    op.create_index(op.f("ix_phrasings_article_id"), "phrasings", ["article_id"])
    op.create_table(
        "queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=10), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_queries_article_id_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queries")),
    )
    op.create_index(op.f("ix_queries_user_id"), "queries", ["user_id"])
    op.create_index(op.f("ix_queries_article_id"), "queries", ["article_id"])
    op.create_index(op.f("ix_queries_band"), "queries", ["band"])
    op.create_index(op.f("ix_queries_created_at"), "queries", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["queries.id"],
            name=op.f("fk_feedback_query_id_queries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_feedback_article_id_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_query_id"), "feedback", ["query_id"])
    op.create_index(op.f("ix_feedback_article_id"), "feedback", ["article_id"])
    op.create_index(
        "uq_feedback_click",
        "feedback",
        ["query_id", sa.text("coalesce(article_id, 0)"), "label"],
        unique=True,
    )
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phrasing_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["phrasing_id"],
            ["phrasings.id"],
            name=op.f("fk_embeddings_phrasing_id_phrasings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint("phrasing_id", "model_version", name=op.f("uq_embeddings_phrasing_id")),
    )
    op.create_index("ix_embeddings_model_version", "embeddings", ["model_version"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_model_version", table_name="embeddings")
    op.drop_table("embeddings")
    op.drop_index("uq_feedback_click", table_name="feedback")
    op.drop_index(op.f("ix_feedback_article_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_query_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_queries_created_at"), table_name="queries")
    op.drop_index(op.f("ix_queries_band"), table_name="queries")
    op.drop_index(op.f("ix_queries_article_id"), table_name="queries")
    op.drop_index(op.f("ix_queries_user_id"), table_name="queries")
    op.drop_table("queries")
    op.drop_index(op.f("ix_phrasings_article_id"), table_name="phrasings")
    op.drop_table("phrasings")
    op.drop_table("articles")
