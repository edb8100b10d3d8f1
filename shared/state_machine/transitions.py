"""The log of moves: one `execution_transitions` row per change of an execution's status (and
per lease hand-over), written the same way by every move.

The portable statements call `record_transition`; the PostgreSQL statements end with a CTE
spelled by `transition_sql`, over the rows their version-guarded UPDATE returned, so a move
whose guard matched nothing logs nothing.
"""

import uuid

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import ExecutionTransition
from shared.db.types import utcnow

_COLUMNS = "execution_id, from_status, to_status, reason, worker, at"


async def record_transition(
    conn: AsyncConnection,
    execution_id: uuid.UUID,
    src: str | None,
    dst: str,
    reason: str,
    owner: str,
) -> None:
    await conn.execute(
        insert(ExecutionTransition).values(
            execution_id=execution_id,
            from_status=src,
            to_status=dst,
            reason=reason,
            worker=owner,
            at=utcnow(),
        )
    )


def transition_sql(select: str) -> str:
    """`INSERT INTO execution_transitions (…) <select>`: `select` yields, in order, the
    execution id, from and to status, reason, worker and time."""
    return f"INSERT INTO execution_transitions ({_COLUMNS})\n    {select}"
