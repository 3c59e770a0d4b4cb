"""An inbox notice remembers the admin's confirmation message, edited once the answer went out.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a notice written before this revision, or whose confirmation was never sent.
    with op.batch_alter_table("inbox_notices") as batch:
        batch.add_column(sa.Column("confirm_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("confirm_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_notices") as batch:
        batch.drop_column("confirm_message_id")
        batch.drop_column("confirm_chat_id")
