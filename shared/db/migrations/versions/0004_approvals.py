"""approvals: one row per approver of an approval wait, and their links' token hashes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = shared.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("wait_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("replaced_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("notified_at", _TIME, nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("next_reminder_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["executions.id"], name=op.f("fk_approvals_execution_id_executions")
        ),
        sa.ForeignKeyConstraint(["wait_id"], ["waits.id"], name=op.f("fk_approvals_wait_id_waits")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_approvals_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_wait_id"), ["wait_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_approvals_execution_id"), ["execution_id"], unique=False
        )
        batch_op.create_index(
            "ix_approvals_status_next_reminder", ["status", "next_reminder_at"], unique=False
        )
    op.create_table(
        "approval_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("approval_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_approval_tokens_approval_id_approvals"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_approval_tokens")),
    )
    with op.batch_alter_table("approval_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_tokens_approval_id"), ["approval_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("approval_tokens")
    op.drop_table("approvals")
