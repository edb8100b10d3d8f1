"""waits.last_decided_at: when an open approval gate was last decided on, and a partial index
on it, so the scheduler's stalled-gates pass reads only gates somebody decided on

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Written out, not imported: a migration keeps the schema of its day.
_OPEN_DECIDED_GATES = "status = 'open' AND kind = 'approval' AND last_decided_at IS NOT NULL"

#: The approvers a gate's rule counts (shared.status.COUNTED_APPROVER_STATUSES on this day).
_COUNTED = "('pending', 'approved', 'rejected')"

#: Open gates that already hold decisions: the latest counted one, as the gateway now records
#: it with each decision. One statement for both backends (correlated subqueries, no
#: UPDATE … FROM), each gate's approvers read through ix_approvals_wait_id; runs once.
_BACKFILL = f"""
UPDATE waits SET last_decided_at = (
    SELECT max(a.decided_at) FROM approvals AS a
    WHERE a.wait_id = waits.id AND a.status IN {_COUNTED}
)
WHERE status = 'open' AND kind = 'approval' AND EXISTS (
    SELECT 1 FROM approvals AS a
    WHERE a.wait_id = waits.id AND a.status IN {_COUNTED} AND a.decided_at IS NOT NULL
)
"""


def upgrade() -> None:
    with op.batch_alter_table("waits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_decided_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )
    op.execute(_BACKFILL)
    op.create_index(
        "ix_waits_open_gates_last_decided",
        "waits",
        # `kind` first, though fixed by the predicate: SQLite then prefers this index to
        # ix_waits_open_kind (an equality on `kind` over every open wait of the kind).
        ["kind", "last_decided_at"],
        postgresql_where=sa.text(_OPEN_DECIDED_GATES),
        sqlite_where=sa.text(_OPEN_DECIDED_GATES),
    )


def downgrade() -> None:
    op.drop_index("ix_waits_open_gates_last_decided", table_name="waits")
    with op.batch_alter_table("waits", schema=None) as batch_op:
        batch_op.drop_column("last_decided_at")
