"""The one-statement resumes read the rows of the runs they were asked for, and no others,
whatever the planner's statistics say.

Each test's database is new and its tables never analyzed — as a new deployment's are, or a
server's whose autovacuum is off or has not caught up. On such statistics the statements once
joined the asked waits to every open wait of their kind, and claimed among every paused
execution (index scans over all of them, filtered by the join): a cost that grew with the runs
parked. They now name the asked ids as constants too, which only the primary keys match.
"""

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from shared.db import driver
from shared.db.types import utcnow
from shared.runtime import Resources
from shared.state_machine.approval_resume_pg import RESUME_APPROVAL_GATES_SQL
from shared.state_machine.checkpoint_pg import CHECKPOINTS_SQL, CheckpointRow
from shared.state_machine.claim_pg import CLAIM_QUEUED_SQL
from shared.state_machine.event_resume_pg import RESUME_EVENT_WAITS_SQL
from shared.step_summary import MAX_SUMMARY_BYTES
from tests.approvals.support import Harness, gate_workflow, gather_limited
from tests.events.support import (
    accepted_event_sql,
    approval_resume_args,
    approved_gate_sql,
    asks_for,
    event_workflow,
    open_wait,
    rolled_back,
)
from tests.support import execution_row, wait_for_status, waits_of

PARKED = 60
#: Runs parked after the statistics were taken.
MANY = 400
#: Rows a statement may read for one ask from the tables it finds its rows in by id, counted
#: per plan node: its wait (locked, then decided), its event or approvers, its execution
#: (looked up, then claimed), its step (found, then completed). Parked runs must add nothing.
#: (The node outputs are read by a subquery per run, which on a table of a page or two the
#: planner rightly serves with a sequential scan.)
ROWS_PER_ASK = 16
BY_ID = {"waits", "wait_events", "approvals", "executions", "execution_steps"}


async def _analyze(resources: Resources) -> None:
    async with resources.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("ANALYZE")


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


async def _rows_read(
    resources: Resources, sql: str, *args: Any, first: str | None = None
) -> dict[str, int]:
    """Rows each growing table gave the statement (returned or filtered out), by EXPLAIN
    ANALYZE in a transaction rolled back (after `first`, when given): nothing is written."""
    async with rolled_back(resources, first) as connection:
        plan = await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    read: dict[str, int] = {}
    # SQLAlchemy's asyncpg dialect gives the connection a JSON codec; a bare one gives text.
    explained = json.loads(plan) if isinstance(plan, str) else plan
    for node in _scans(explained[0]["Plan"]):
        table = node.get("Relation Name")
        if table in BY_ID:
            rows = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            read[table] = read.get(table, 0) + rows * node["Actual Loops"]
    return read


async def _event_resume_of_one_among(harness: Harness, parked: int) -> dict[str, int]:
    """Park `parked` runs on event waits, deliver every event, and read the rows the resume
    statement reads for the middle one alone."""
    runs = await gather_limited(*(harness.start(event_workflow()) for _ in range(parked)))
    waits = [await open_wait(harness.resources, run) for run in runs]
    asked = waits[parked // 2]
    return await _rows_read(
        harness.resources,
        RESUME_EVENT_WAITS_SQL,
        *asks_for(asked.execution_id, asked.id),
        MAX_SUMMARY_BYTES,
        first="; ".join(accepted_event_sql(wait) for wait in waits),
    )


async def test_an_event_resume_reads_only_the_asked_run(harness: Harness) -> None:
    read = await _event_resume_of_one_among(harness, PARKED)

    assert read["waits"] >= 1, read  # the statement did look at the asked wait
    assert sum(read.values()) <= ROWS_PER_ASK, read


async def test_an_event_resume_reads_only_the_asked_run_on_statistics_from_before_the_parking(
    harness: Harness,
) -> None:
    """Analyzed while one run waited, then many parked at once, faster than autovacuum looks:
    the statistics rate the open event waits one row, and the plan read that partial index
    (ix_waits_open_kind) whole instead of the primary key: 380 waits for one ask with 400
    parked. Enough runs park that the small tables' sequential scans, right for 60 rows, are
    not what the planner picks. (The approval resume locks its waits with the same CTE.)"""
    await open_wait(harness.resources, await harness.start(event_workflow()))
    await _analyze(harness.resources)

    read = await _event_resume_of_one_among(harness, MANY)

    assert read["waits"] >= 1, read
    assert sum(read.values()) <= ROWS_PER_ASK, read


async def test_an_approval_resume_reads_only_the_asked_gate(harness: Harness) -> None:
    resources = harness.resources
    runs = await gather_limited(*(harness.start(gate_workflow()) for _ in range(PARKED)))
    for run in runs:
        await wait_for_status(resources, run, "paused")
    asked = runs[PARKED // 2]
    [wait] = await waits_of(resources, asked)

    read = await _rows_read(
        resources,
        RESUME_APPROVAL_GATES_SQL,
        *approval_resume_args(asked, wait.id),
        first=approved_gate_sql(wait.id),
    )

    assert read["waits"] >= 1, read
    assert sum(read.values()) <= ROWS_PER_ASK + 3, read  # + its three approvers


async def test_a_checkpoint_and_a_claim_read_only_their_own_run(harness: Harness) -> None:
    """Both hot statements of a run, asked for one run while every other run is running (the
    checkpoint's guard), then queued (the claim's), on statistics taken while none was: a
    burst after a quiet spell."""
    resources = harness.resources
    runs = await gather_limited(*(harness.start(event_workflow()) for _ in range(PARKED)))
    waits = [await open_wait(resources, run) for run in runs]
    await _analyze(resources)
    asked = waits[PARKED // 2].execution_id
    version = (await execution_row(resources, asked)).version
    now = utcnow()
    row = CheckpointRow(
        execution_id=asked, expected_version=version, rest=None, outputs={"po": 1},
        current_node_id=None, status="running", finished_at=None, execution_time_ms=None,
        error=None, node_id="after", node_type="set", attempt=1, step_status="completed",
        started_at=now, completed_at=now, duration_ms=0, step_error=None, output_summary=None,
        condition=None, step_id=None, reason="planned", at=now,
    )  # fmt: skip

    checkpoint = await _rows_read(
        resources,
        CHECKPOINTS_SQL,
        driver.as_json([row]),
        "planner",
        [asked],
        first="UPDATE executions SET status = 'running', lease_owner = 'planner'",
    )
    claim = await _rows_read(
        resources,
        CLAIM_QUEUED_SQL,
        *asks_for(asked, uuid.uuid4())[:1],
        ["planner"],
        [now + timedelta(seconds=30)],
        [now],
        first="UPDATE executions SET status = 'queued', lease_owner = NULL",
    )

    assert checkpoint["executions"] >= 1 and claim["executions"] >= 1, (checkpoint, claim)
    assert sum(checkpoint.values()) <= ROWS_PER_ASK, checkpoint
    assert sum(claim.values()) <= ROWS_PER_ASK, claim
