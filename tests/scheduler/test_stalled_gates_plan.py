"""The stalled-gates pass reads only gates someone decided on, through an index, even when the
planner is free to scan: parked gates nobody touched cost it nothing.

`test_periodic_queries` prices sequential scans out, which proves an index exists; this test
leaves the planner its choice over a realistic number of parked gates with fresh statistics,
where a statement that reads every open gate's approvers is planned as a Seq Scan.
"""

import uuid
from typing import Any

from sqlalchemy import insert

from services.periodic import selects_of_one_pass
from shared.db.tables import Approval, Execution, Wait
from shared.runtime import Resources
from tests.scheduler.support import insert_execution
from tests.scheduler.test_periodic_queries import plan

#: Parked approval gates, each with this many approvers, none of whom has decided.
PARKED_GATES = 2_000
APPROVERS_PER_GATE = 2
#: Tables that grow with the gates parked: none may be read whole.
WHOLE = ("approvals", "waits")


async def park_undecided_gates(resources: Resources, gates: int) -> None:
    """`gates` paused runs, each on an open approval gate whose approvers are all pending."""
    template = await insert_execution(resources, status="paused", lease_owner=None)
    async with resources.sessions.begin() as session:
        seed = await session.get_one(Execution, template)
        executions: list[dict[str, Any]] = []
        waits: list[dict[str, Any]] = []
        approvers: list[dict[str, Any]] = []
        for _ in range(gates):
            execution_id, wait_id = uuid.uuid4(), uuid.uuid4()
            executions.append(
                {
                    "id": execution_id,
                    "workspace_id": seed.workspace_id,
                    "workflow_id": seed.workflow_id,
                    "workflow_version": 1,
                    "status": "paused",
                    "context": {},
                    "trigger_data": {},
                }
            )
            waits.append(
                {
                    "id": wait_id,
                    "execution_id": execution_id,
                    "node_id": "gate",
                    "kind": "approval",
                    "rule": {"strategy": "all", "required": APPROVERS_PER_GATE},
                    "facts": {},
                }
            )
            approvers += [
                {
                    "wait_id": wait_id,
                    "execution_id": execution_id,
                    "workspace_id": seed.workspace_id,
                    "node_id": "gate",
                    "position": position,
                    "email": f"approver{position}@example.com",
                }
                for position in range(APPROVERS_PER_GATE)
            ]
        await session.execute(insert(Execution), executions)
        await session.execute(insert(Wait), waits)
        await session.execute(insert(Approval), approvers)


async def test_the_stalled_gates_pass_reads_no_parked_gate_whole_with_the_planner_free(
    pg_resources: Resources,
) -> None:
    await park_undecided_gates(pg_resources, PARKED_GATES)
    async with pg_resources.engine.begin() as connection:
        # Autovacuum is off on the test server (and lags on a busy one): statistics as fresh
        # as it would leave them.
        await connection.exec_driver_sql("ANALYZE executions, waits, approvals")

    statements = [
        s for s in await selects_of_one_pass(pg_resources) if s.duty == "scheduler stalled_resumes"
    ]
    assert statements, "the stalled-gates pass sent no SELECT"

    plans: dict[str, list[str]] = {}
    async with pg_resources.engine.connect() as connection:
        for statement in statements:
            plans[statement.sql[:120]] = await plan(connection, statement)
        await connection.rollback()

    scanning = {sql: lines for sql, lines in plans.items() if _scans_whole(lines, WHOLE)}
    assert scanning == {}
    # The gates come from the index of gates decided on, not from every open gate.
    assert any(
        "ix_waits_open_gates_last_decided" in line for lines in plans.values() for line in lines
    ), plans


def _scans_whole(lines: list[str], tables: tuple[str, ...]) -> bool:
    return any(f"Seq Scan on {table} " in f"{line} " for table in tables for line in lines)
