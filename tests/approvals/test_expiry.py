"""Deadlines: `on_timeout` applies exactly once, with several schedulers, and a click racing
the deadline is settled by the same compare-and-set."""

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, update

from services.scheduler.worker import Scheduler
from shared.db.tables import ExecutionTransition, Wait
from shared.db.types import utcnow
from shared.runtime import Resources
from tests.approvals.support import Harness, approvals_of, approvers, gate_workflow
from tests.processes import spawn, stop
from tests.support import wait_for_status, waits_of


async def resumes(resources: Resources, execution_id: uuid.UUID) -> int:
    async with resources.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(
                ExecutionTransition.execution_id == execution_id,
                ExecutionTransition.from_status == "paused",
            )
        )
    return int(count or 0)


async def _deadline_passes(resources: Resources, execution_id: uuid.UUID) -> None:
    async with resources.sessions.begin() as session:
        await session.execute(
            update(Wait).where(Wait.execution_id == execution_id).values(expires_at=utcnow())
        )


@pytest.mark.parametrize(
    ("on_timeout", "on_reject", "status", "outcome", "wait_status"),
    [
        ("approve", "fail", "completed", "approved", "decided"),
        ("reject", "continue", "completed", "rejected", "decided"),
        ("reject", "fail", "failed", "rejected", "decided"),
        ("fail", "fail", "failed", "expired", "expired"),
    ],
)
async def test_an_expired_gate_applies_on_timeout_once(
    harness: Harness,
    scheduler: Scheduler,
    on_timeout: str,
    on_reject: str,
    status: str,
    outcome: str,
    wait_status: str,
) -> None:
    execution_id = await harness.start(
        gate_workflow(strategy="all", expires_in=3600, on_timeout=on_timeout, on_reject=on_reject)
    )
    links = await harness.links(3)
    # One approval before the deadline is not enough for `all`: the timeout decides.
    assert await harness.click(links["approver0@example.com"], "approve") == 200
    await harness.settled_without_decision(1)
    # The deadline comes now, not after a second of wall clock that a loaded machine could
    # spend before the click.
    await _deadline_passes(harness.resources, execution_id)

    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")

    assert done.status == status
    [wait] = await waits_of(harness.resources, execution_id)
    assert wait.status == wait_status
    assert wait.decision is not None
    assert (wait.decision["outcome"], wait.decision["by"]) == (outcome, "timeout")
    assert (wait.decision["approved"], wait.decision["pending"]) == (1, 2)
    # Those who never decided show what decided for them: the deadline.
    statuses = [a.status for a in await approvals_of(harness.resources, execution_id)]
    assert statuses == ["approved", "expired", "expired"]
    assert [a["status"] for a in wait.decision["approvers"]] == statuses
    counts = "(1 approved, 0 rejected, 2 pending, 3 required)"
    failed = "node 'gate' (human-in-loop) failed on attempt 1: approval gate 'gate'"
    if status == "completed":
        assert done.error is None
        assert done.context["approvals"]["gate"]["outcome"] == outcome
        assert done.context["node_outputs"]["after"] == {"seen": outcome}
    elif outcome == "expired":
        assert wait.expires_at is not None
        assert done.error == (
            f"{failed} expired at {wait.expires_at.isoformat()} without a decision {counts}; "
            "on_timeout is 'fail'"
        )
    else:
        assert done.error == f"{failed} was rejected {counts}"
    assert await resumes(harness.resources, execution_id) == 1


@pytest.mark.slow
async def test_two_scheduler_processes_expire_each_gate_exactly_once(harness: Harness) -> None:
    settings = harness.resources.settings
    started = [
        await harness.start(
            gate_workflow(approvers=approvers(1), expires_in=2, on_timeout="approve")
        )
        for _ in range(8)
    ]
    schedulers = [
        await spawn(settings, "scheduler", DOCFLOW_WORKER_ID=f"scheduler-{i}") for i in range(2)
    ]
    try:
        finished = [
            await wait_for_status(harness.resources, execution_id, "completed", "failed", within=40)
            for execution_id in started
        ]
    finally:
        for process in schedulers:
            await stop(process)

    assert {row.status for row in finished} == {"completed"}
    for execution_id in started:
        assert await resumes(harness.resources, execution_id) == 1
        [wait] = await waits_of(harness.resources, execution_id)
        assert wait.decision is not None and wait.decision["by"] == "timeout"


async def test_a_click_racing_the_deadline_is_either_counted_or_refused_never_both(
    harness: Harness, scheduler: Scheduler
) -> None:
    gates: list[uuid.UUID] = []
    tokens: list[str] = []
    for index in range(6):
        definition = gate_workflow(
            approvers=approvers(1), expires_in=5, on_timeout="reject", on_reject="continue"
        )
        gates.append(await harness.start(definition))
        tokens.extend((await harness.links(1, after=index)).values())
    pages = [await harness.open_page(token) for token in tokens]
    async with harness.resources.sessions() as session:
        deadlines = {
            row.execution_id: row.expires_at
            for row in await session.execute(
                select(Wait.execution_id, Wait.expires_at).where(Wait.execution_id.in_(gates))
            )
        }

    async def click_at_the_deadline(index: int) -> tuple[int, str]:
        _, _, csrf = pages[index]
        assert csrf, "the page opened before the deadline"
        # Aiming at a moment (a few ms either side of the deadline), not waiting for a state.
        offset = (index % 3 - 1) * 0.01
        await asyncio.sleep(max(0.0, (deadlines[gates[index]] - utcnow()).total_seconds() + offset))
        return await harness.post(tokens[index], csrf, "approve")

    clicks = await asyncio.gather(*(click_at_the_deadline(i) for i in range(len(gates))))

    for execution_id, (status, html) in zip(gates, clicks, strict=True):
        done = await wait_for_status(harness.resources, execution_id, "completed")
        decision = done.context["approvals"]["gate"]
        [approval] = await approvals_of(harness.resources, execution_id)
        assert await resumes(harness.resources, execution_id) == 1
        if status == 200 and not approval.late:
            # Recorded before the deadline: counted, whichever resume the executor saw first.
            assert (decision["outcome"], decision["by"]) == ("approved", "rule")
        else:
            assert status in (200, 410), html
            assert (decision["outcome"], decision["by"]) == ("rejected", "timeout")
            assert approval.status == ("approved" if status == 200 else "expired")
