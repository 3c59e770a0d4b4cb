"""The body of an article as an admin formatted it in Telegram.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not batch mode: rebuilding `articles` would cascade to phrasings and feedback.
    op.add_column("articles", sa.Column("body_html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE articles DROP COLUMN body_html")
