"""executions: the SHA-256 of the run request's body, beside its idempotency key

A reused `Idempotency-Key` with another body is a mistake to refuse (422), not a retry to
answer with the first run. Runs from before this column keep NULL and are answered as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("request_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("request_sha256")
