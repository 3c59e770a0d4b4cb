"""Admins' digests: who muted theirs, and the last question and feedback each one covered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_digests",
        sa.Column("admin_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("seen_query_id", sa.Integer(), nullable=False),
        sa.Column("seen_feedback_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("admin_id", name=op.f("pk_admin_digests")),
    )


def downgrade() -> None:
    op.drop_table("admin_digests")
