"""Claims commit without waiting for the write-ahead log's flush; checkpoints wait for it.

The statement sets `synchronous_commit` for its own transaction, which is what PostgreSQL reads
when that transaction commits. Each statement runs here in a transaction that is then rolled
back, so the setting can be read after it (SHOW) and nothing is written.
(Why a claim may, and a checkpoint may not: shared/db/commit_without_flush.py.)
"""

from datetime import timedelta

from shared.db import driver
from shared.db.tables import Wait
from shared.db.types import utcnow
from shared.state_machine.approval_resume_pg import RESUME_APPROVAL_GATES_SQL
from shared.state_machine.checkpoint_pg import CHECKPOINTS_SQL, CheckpointRow
from shared.state_machine.claim_pg import CLAIM_QUEUED_SQL
from shared.state_machine.event_resume_pg import RESUME_EVENT_WAITS_SQL
from shared.step_summary import MAX_SUMMARY_BYTES
from tests.approvals.support import Harness, gate_workflow
from tests.events.support import (
    accepted_event_sql,
    approval_resume_args,
    approved_gate_sql,
    asks_for,
    commit_mode,
    event_workflow,
    open_wait,
)
from tests.support import execution_row, wait_for_status, waits_of


async def _parked_on_event(harness: Harness) -> Wait:
    """A run's open event wait, with no event: nothing resumes the run meanwhile."""
    return await open_wait(harness.resources, await harness.start(event_workflow()))


async def test_an_event_resume_claims_without_waiting_for_the_flush(harness: Harness) -> None:
    wait = await _parked_on_event(harness)

    claimed, mode = await commit_mode(
        harness.resources,
        RESUME_EVENT_WAITS_SQL,
        *asks_for(wait.execution_id, wait.id),
        MAX_SUMMARY_BYTES,
        first=accepted_event_sql(wait),
    )

    assert (len(claimed), mode) == (1, "off")


async def test_an_approval_resume_claims_without_waiting_for_the_flush(harness: Harness) -> None:
    resources = harness.resources
    run = await harness.start(gate_workflow())
    await wait_for_status(resources, run, "paused")
    [wait] = await waits_of(resources, run)

    claimed, mode = await commit_mode(
        resources,
        RESUME_APPROVAL_GATES_SQL,
        *approval_resume_args(run, wait.id),
        first=approved_gate_sql(wait.id),
    )

    assert (len(claimed), mode) == (1, "off")


async def test_a_queued_run_is_claimed_without_waiting_for_the_flush(harness: Harness) -> None:
    run = (await _parked_on_event(harness)).execution_id
    now = utcnow()

    claimed, mode = await commit_mode(
        harness.resources,
        CLAIM_QUEUED_SQL,
        [run],
        ["planner"],
        [now + timedelta(seconds=30)],
        [now],
        first="UPDATE executions SET status = 'queued', lease_owner = NULL",
    )

    assert (len(claimed), mode) == (1, "off")


async def test_a_checkpoint_waits_for_the_flush(harness: Harness) -> None:
    """The checkpoint that ends a run's turn is the commit that makes its claim durable before
    the message is acknowledged: it must not skip the flush."""
    run = (await _parked_on_event(harness)).execution_id
    version = (await execution_row(harness.resources, run)).version
    now = utcnow()
    row = CheckpointRow(
        execution_id=run, expected_version=version, rest=None, outputs={"po": 1},
        current_node_id=None, status="completed", finished_at=now, execution_time_ms=1,
        error=None, node_id="after", node_type="set", attempt=1, step_status="completed",
        started_at=now, completed_at=now, duration_ms=0, step_error=None, output_summary=None,
        condition=None, step_id=None, reason="every node completed", at=now,
    )  # fmt: skip

    written, mode = await commit_mode(
        harness.resources,
        CHECKPOINTS_SQL,
        driver.as_json([row]),
        "planner",
        [run],
        first="UPDATE executions SET status = 'running', lease_owner = 'planner'",
    )

    assert (len(written), mode) == (1, "on")
