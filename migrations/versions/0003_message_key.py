"""The Telegram update each logged question came from, so a question handled again is logged once.

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
    # Not batch mode: rebuilding `queries` would drop the table that feedback references,
    # and with foreign keys on, SQLite would delete the feedback with it.
    op.add_column("queries", sa.Column("message_key", sa.String(length=64), nullable=True))
    op.create_index("uq_queries_message_key", "queries", ["message_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_queries_message_key", table_name="queries")
    op.execute("ALTER TABLE queries DROP COLUMN message_key")
