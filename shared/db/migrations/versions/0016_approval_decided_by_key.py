"""approvals.decided_by_key: a decision made through the API names the key that made it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by_key", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            "fk_approvals_decided_by_key_api_keys", "api_keys", ["decided_by_key"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_constraint("fk_approvals_decided_by_key_api_keys", type_="foreignkey")
        batch_op.drop_column("decided_by_key")
