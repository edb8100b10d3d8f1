"""executions: leave room in each page so a checkpoint can update its row in place

Every node's checkpoint rewrites its execution's row. When the new row version fits on the same
page and no indexed column changed, PostgreSQL writes no index entries (a HOT update); at the
default fillfactor of 100 the pages are full and most checkpoints cannot. SQLite has no such
setting.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE executions SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE executions RESET (fillfactor)")
