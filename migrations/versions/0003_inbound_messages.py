"""The journal of incoming messages, and the message each logged question came from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("source", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("source", "key", name=op.f("pk_inbound_messages")),
    )
    op.create_index(
        "ix_inbound_messages_unhandled", "inbound_messages", ["source", "handled_at"], unique=False
    )
    # Not batch mode: rebuilding `queries` would drop the table that feedback references,
    # and with foreign keys on, SQLite would delete the feedback with it.
    op.add_column("queries", sa.Column("message_key", sa.String(length=64), nullable=True))
    op.create_index("uq_queries_message_key", "queries", ["message_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_queries_message_key", table_name="queries")
    op.execute("ALTER TABLE queries DROP COLUMN message_key")
    op.drop_index("ix_inbound_messages_unhandled", table_name="inbound_messages")
    op.drop_table("inbound_messages")
