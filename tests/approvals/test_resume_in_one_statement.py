"""An approver's decision resumes its gate in one statement on PostgreSQL
(shared/state_machine/approval_resume_pg.py), and that statement decides exactly as the
portable resume — the node's `settle` in Python — does, field for field."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from services.executor.nodes.approval import ApprovalNode
from shared.db.tables import Approval, ExecutionTransition, Wait
from shared.db.types import utcnow
from shared.runtime import Resources
from shared.state_machine.approval_resume_pg import approval_resumes
from shared.state_machine.claimed import Claimed
from shared.state_machine.fused_resume_pg import FusedResumes
from shared.state_machine.resume import claim_resume
from shared.state_machine.waits import WaitRecord
from tests.approvals.support import Harness, approvals_of, gate_workflow
from tests.support import execution_row, wait_for_status, waits_of

OWNER = "test-owner"
#: Two decisions, one of them on a whole second (isoformat then writes no fraction).
DECIDED = [
    ("approved", "fine by me", datetime(2026, 12, 1, 9, 30, 0, 0, tzinfo=UTC)),
    ("approved", None, datetime(2026, 12, 1, 9, 31, 5, 123456, tzinfo=UTC)),
]


async def _paused_gate(harness: Harness, decided: list[tuple[str, str | None, datetime]]) -> Any:
    """A quorum-of-2 gate of three approvers, paused, with `decided` written as the first
    approvers' decisions (straight to the rows: no resume is asked for)."""
    execution_id = await harness.start(gate_workflow(strategy="quorum", required=2))
    await wait_for_status(harness.resources, execution_id, "paused")
    approvals = await approvals_of(harness.resources, execution_id)
    async with harness.resources.sessions.begin() as session:
        for row, (status, comment, at) in zip(approvals, decided, strict=False):
            await session.execute(
                update(Approval)
                .where(Approval.id == row.id)
                .values(status=status, comment=comment, decided_at=at)
            )
    [wait] = await waits_of(harness.resources, execution_id)
    return wait


async def _in_one_statement(
    resources: Resources, wait: Any, resumes: FusedResumes | None = None
) -> Claimed | None:
    """`resumes`: one worker's, shared by the asks made together (one statement)."""
    resumes = resumes or approval_resumes(resources.engine)
    resumed = await resumes.claim(
        wait.execution_id, wait.id, owner=OWNER, lease_seconds=30, now=utcnow()
    )
    return None if resumed is None else resumed.claimed


async def _portable(resources: Resources, wait: Any) -> Claimed | None:
    async def settle(conn: Any, _node_id: str, record: WaitRecord) -> dict[str, Any] | None:
        return await ApprovalNode().settle(conn, record, "fact")

    return await claim_resume(
        resources.engine, wait.execution_id, wait.id, owner=OWNER, lease_seconds=30, settle=settle
    )


async def _stored_decision(resources: Resources, wait_id: uuid.UUID) -> tuple[str, Any]:
    async with resources.sessions() as session:
        row = (
            await session.execute(select(Wait.status, Wait.decision).where(Wait.id == wait_id))
        ).one()
    return row.status, row.decision


async def _transition_reasons(resources: Resources, execution_id: uuid.UUID) -> list[str]:
    async with resources.sessions() as session:
        return list(
            await session.scalars(
                select(ExecutionTransition.reason)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.id)
            )
        )


async def test_the_statement_decides_a_gate_exactly_as_the_portable_resume_does(
    harness: Harness,
) -> None:
    resources = harness.resources
    fused_wait = await _paused_gate(harness, DECIDED)
    portable_wait = await _paused_gate(harness, DECIDED)

    fused = await _in_one_statement(resources, fused_wait)
    portable = await _portable(resources, portable_wait)

    assert fused is not None and portable is not None
    assert fused.wait is not None and portable.wait is not None
    decision, expected = dict(fused.wait.decision or {}), dict(portable.wait.decision or {})
    # Each is stamped with its own resume's time, in the same format.
    assert datetime.fromisoformat(decision.pop("decided_at")).tzinfo is not None
    assert datetime.fromisoformat(expected.pop("decided_at")).tzinfo is not None
    assert decision == expected
    assert decision["outcome"] == "approved" and decision["pending"] == 1
    assert [a["decided_at"] for a in decision["approvers"]] == [
        "2026-12-01T09:30:00+00:00",
        "2026-12-01T09:31:05.123456+00:00",
        None,
    ]
    # The run is claimed the same way: at the gate, its waiting attempt to complete.
    for claimed, wait in ((fused, fused_wait), (portable, portable_wait)):
        assert (claimed.current_node_id, claimed.attempt) == ("gate", 1)
        assert claimed.open_step_id is not None
        row = await execution_row(resources, wait.execution_id)
        assert (row.status, row.lease_owner, row.version) == ("running", OWNER, claimed.version)
        assert await _stored_decision(resources, wait.id) == ("decided", claimed.wait.decision)  # type: ignore[union-attr]
        assert (await _transition_reasons(resources, wait.execution_id))[-1] == (
            "approval wait decided"
        )


async def test_a_gate_short_of_its_quorum_is_left_waiting_and_nothing_is_written(
    harness: Harness,
) -> None:
    resources = harness.resources
    wait = await _paused_gate(harness, DECIDED[:1])
    before = await execution_row(resources, wait.execution_id)

    # The same resume asked twice at once (a message delivered twice) shares one statement:
    # the gate's one approval must not be counted once per ask.
    worker = approval_resumes(resources.engine)
    found = await asyncio.gather(*(_in_one_statement(resources, wait, worker) for _ in range(2)))

    assert found == [None, None]
    after = await execution_row(resources, wait.execution_id)
    assert (after.status, after.version) == ("paused", before.version)
    assert await _stored_decision(resources, wait.id) == ("open", None)


async def test_a_decided_gate_resumed_twice_at_once_is_claimed_once(harness: Harness) -> None:
    resources = harness.resources
    wait = await _paused_gate(harness, DECIDED)

    # Asked together on one worker (one statement) and on two others.
    worker = approval_resumes(resources.engine)
    asks = [_in_one_statement(resources, wait, worker) for _ in range(2)]
    asks += [_in_one_statement(resources, wait) for _ in range(2)]
    found = await asyncio.gather(*asks)

    assert sum(claimed is not None for claimed in found) == 1
    assert (await _transition_reasons(resources, wait.execution_id)).count(
        "approval wait decided"
    ) == 1
