"""email_deliveries: the try under way (claim) and the tries cut short (interruptions)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("interruptions", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_email_deliveries_claimed_at"), ["claimed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_deliveries_claimed_at"))
        batch_op.drop_column("interruptions")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claim_id")
