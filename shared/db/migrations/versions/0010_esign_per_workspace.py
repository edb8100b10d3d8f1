"""signature_requests: the workspace connection that made each request, and its cancellation
at the provider (issue 17: e-signature per workspace; a cancelled run cancels its envelope).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str) -> "sa.Column[datetime]":
    return sa.Column(name, shared.db.types.UtcDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("signature_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", sa.Uuid(), nullable=True))
        batch_op.add_column(_time("cancel_requested_at"))
        batch_op.add_column(_time("cancel_due_at"))
        batch_op.add_column(
            sa.Column("cancel_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("cancel_outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(_time("cancelled_at"))
        batch_op.add_column(sa.Column("cancel_answer", sa.JSON(), nullable=True))
        batch_op.create_index("ix_signature_requests_cancel_due", ["cancel_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("signature_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_requests_cancel_due")
        for column in (
            "cancel_answer",
            "cancelled_at",
            "cancel_outcome",
            "cancel_attempts",
            "cancel_due_at",
            "cancel_requested_at",
            "connection_id",
        ):
            batch_op.drop_column(column)
