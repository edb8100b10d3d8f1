"""Node outputs, a row each (`execution_outputs`): written by the checkpoint of the node that
made them, read back with the rest of the context by every claim (`shared/context.py`)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, delete, func, insert, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import Execution, ExecutionOutput

#: The execution's outputs as one JSON object, by node id, in the order they were written;
#: for the hand-written PostgreSQL statements, `e` being the execution.
OUTPUTS_SQL = """(SELECT json_object_agg(o.node_id, o.output ORDER BY o.at, o.node_id)
     FROM execution_outputs AS o WHERE o.execution_id = e.id)"""


def outputs_column(dialect: str) -> ColumnElement[Any]:
    """OUTPUTS_SQL for SQLAlchemy statements that select from `executions`."""
    row = ExecutionOutput
    if dialect == "postgresql":
        output = aggregate_order_by(row.output, row.at)
        aggregated = func.json_object_agg(row.node_id, output, type_=JSON)
    else:
        # SQLite: in primary-key order (node id); an ordered subquery here would not be
        # correlated with the execution any more.
        aggregated = func.json_group_object(row.node_id, func.json(row.output), type_=JSON)
    correlated = select(aggregated).where(row.execution_id == Execution.id)
    return correlated.scalar_subquery().label("outputs")


async def write_outputs(
    conn: AsyncConnection, execution_id: uuid.UUID, outputs: dict[str, Any], at: datetime
) -> None:
    """Store outputs by node id, replacing what an earlier attempt of the node left."""
    if not outputs:
        return
    await conn.execute(
        delete(ExecutionOutput).where(
            ExecutionOutput.execution_id == execution_id,
            ExecutionOutput.node_id.in_(list(outputs)),
        )
    )
    await conn.execute(
        insert(ExecutionOutput),
        [
            {"execution_id": execution_id, "node_id": node_id, "output": output, "at": at}
            for node_id, output in outputs.items()
        ],
    )
