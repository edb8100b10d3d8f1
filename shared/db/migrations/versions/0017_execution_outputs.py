"""execution_outputs: each node's output in a row of its own, out of executions.context

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOVE_OUT_PG = """
INSERT INTO execution_outputs (execution_id, node_id, output, at)
SELECT e.id, o.key, o.value, now()
FROM executions AS e, json_each(e.context -> 'node_outputs') AS o
WHERE json_typeof(e.context -> 'node_outputs') = 'object'
"""
_STRIP_PG = """
UPDATE executions SET context = (context::jsonb - 'node_outputs')::json
WHERE context -> 'node_outputs' IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "execution_outputs",
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("output", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_execution_outputs_execution_id_executions"),
        ),
        sa.PrimaryKeyConstraint("execution_id", "node_id", name=op.f("pk_execution_outputs")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_MOVE_OUT_PG)
        op.execute(_STRIP_PG)
        return
    # SQLite: the embedded mode's small databases, row by row.
    now = datetime.now(UTC).replace(tzinfo=None)
    for execution_id, stored in bind.execute(sa.text("SELECT id, context FROM executions")):
        context = _loaded(stored) or {}
        outputs = context.pop("node_outputs", None)
        if not isinstance(outputs, dict):
            continue
        for node_id, output in outputs.items():
            bind.execute(
                sa.text(
                    "INSERT INTO execution_outputs (execution_id, node_id, output, at) "
                    "VALUES (:id, :node, :output, :at)"
                ),
                {"id": execution_id, "node": node_id, "output": json.dumps(output), "at": now},
            )
        bind.execute(
            sa.text("UPDATE executions SET context = :context WHERE id = :id"),
            {"id": execution_id, "context": json.dumps(context)},
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT execution_id, node_id, output FROM execution_outputs ORDER BY at")
    ).all()
    outputs: dict[Any, dict[str, Any]] = {}
    for execution_id, node_id, output in rows:
        outputs.setdefault(execution_id, {})[node_id] = _loaded(output)
    for execution_id, by_node in outputs.items():
        stored = bind.execute(
            sa.text("SELECT context FROM executions WHERE id = :id"), {"id": execution_id}
        ).scalar_one()
        context = _loaded(stored) or {}
        context["node_outputs"] = {**context.get("node_outputs", {}), **by_node}
        bind.execute(
            sa.text(
                "UPDATE executions SET context = CAST(:context AS "
                + ("json" if bind.dialect.name == "postgresql" else "text")
                + ") WHERE id = :id"
            ),
            {"id": execution_id, "context": json.dumps(context)},
        )
    op.drop_table("execution_outputs")


def _loaded(value: Any) -> Any:
    """A JSON column's value: decoded by the driver on PostgreSQL, text on SQLite."""
    return json.loads(value) if op.get_bind().dialect.name == "sqlite" else value
