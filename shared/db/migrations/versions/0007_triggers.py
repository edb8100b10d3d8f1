"""triggers and e-mail nodes: webhook secrets; scheduled retries and replies on e-mail deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_secrets",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("previous_sealed", sa.Text(), nullable=True),
        sa.Column(
            "previous_valid_until", shared.db.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", shared.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_webhook_secrets_workflow_id_workflows")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_secrets_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_webhook_secrets")),
    )
    with op.batch_alter_table("webhook_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_secrets_workspace_id"), ["workspace_id"], unique=False
        )
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("transport", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("server_reply", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_email_deliveries_next_attempt_at"), ["next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_deliveries_next_attempt_at"))
        batch_op.drop_column("server_reply")
        batch_op.drop_column("transport")
        batch_op.drop_column("request")
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("webhook_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_secrets_workspace_id"))
    op.drop_table("webhook_secrets")
