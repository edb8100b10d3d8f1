"""execution_steps.condition: a node's `when`, and what it evaluated to

A node may carry `when`; the step of each attempt records the expression and its value, so a
skipped node says why it was skipped (and a node that ran, why it ran).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("execution_steps") as batch:
        batch.add_column(sa.Column("condition", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("execution_steps") as batch:
        batch.drop_column("condition")
