"""wait_events: external events for `event` nodes (API calls and resume URLs)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wait_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dedup_key", sa.String(length=300), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("payload", shared.db.types.JsonColumn, nullable=True),
        sa.Column("wait_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["executions.id"], name=op.f("fk_wait_events_execution_id_executions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wait_events")),
        sa.UniqueConstraint(
            "execution_id",
            "node_id",
            "dedup_key",
            name=op.f("uq_wait_events_execution_id_node_id_dedup_key"),
        ),
    )
    op.create_index(
        "ix_wait_events_accepted",
        "wait_events",
        ["execution_id", "node_id"],
        unique=True,
        postgresql_where=sa.text("status = 'accepted'"),
        sqlite_where=sa.text("status = 'accepted'"),
    )


def downgrade() -> None:
    op.drop_index("ix_wait_events_accepted", table_name="wait_events")
    op.drop_table("wait_events")
