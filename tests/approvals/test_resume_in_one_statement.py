"""An approver's decision resumes its gate in one statement on PostgreSQL
(shared/state_machine/approval_resume_pg.py), and that statement decides exactly as the
portable resume — the node's `settle` in Python — does, field for field. Where the node's
`resume` would complete the gate, the statement completes it too, with the same output and
context, and the run goes on from the next node; otherwise the run is claimed at the gate."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from services.executor.nodes.approval import ApprovalNode
from services.executor.nodes.base import Completed, NodeCall
from shared.db.tables import Approval, ExecutionTransition, Wait
from shared.db.types import utcnow
from shared.nodes.approval import ApprovalConfig
from shared.runtime import Resources
from shared.settings import Settings
from shared.state_machine.approval_resume_pg import approval_resumes
from shared.state_machine.claimed import Claimed
from shared.state_machine.fused_resume_pg import FusedResumes
from shared.state_machine.resume import claim_resume
from shared.state_machine.waits import WaitRecord
from tests.approvals.support import Harness, approvals_of, gate_workflow
from tests.support import execution_row, steps_of, wait_for_status, waits_of

OWNER = "test-owner"
#: The executor's limits, as it passes them.
LIMITS = {
    "max_context_bytes": Settings().max_context_bytes,
    "max_node_output_bytes": Settings().max_node_output_bytes,
}
#: Two decisions, one of them on a whole second (isoformat then writes no fraction).
DECIDED = [
    ("approved", "fine by me", datetime(2026, 12, 1, 9, 30, 0, 0, tzinfo=UTC)),
    ("approved", None, datetime(2026, 12, 1, 9, 31, 5, 123456, tzinfo=UTC)),
]


async def _paused_gate(
    harness: Harness,
    decided: list[tuple[str, str | None, datetime]],
    definition: dict[str, Any] | None = None,
) -> Any:
    """A quorum-of-2 gate of three approvers (or the gate of `definition`), paused, with
    `decided` written as the first approvers' decisions (straight to the rows: no resume is
    asked for)."""
    definition = definition or gate_workflow(strategy="quorum", required=2)
    execution_id = await harness.start(definition)
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
    resumes = resumes or approval_resumes(resources.engine, **LIMITS)
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


async def _node_resume(resources: Resources, claimed: Claimed) -> Completed:
    """What ApprovalNode.resume makes of the portable claim: the gate's output and context."""
    row = await execution_row(resources, claimed.execution_id)
    config = ApprovalConfig.model_validate(gate_workflow()["nodes"][1]["config"])
    call = NodeCall(
        execution_id=claimed.execution_id,
        workflow_id=claimed.workflow_id,
        workspace_id=claimed.workspace_id,
        node_id="gate",
        attempt=claimed.attempt,
        config=config,
        context=claimed.context,
        trigger_data=row.trigger_data or {},
        services=None,  # type: ignore[arg-type]  # resume renders nothing
    )
    assert claimed.wait is not None
    result = await ApprovalNode().resume(call, claimed.wait)
    assert isinstance(result, Completed)
    return result


async def test_the_statement_decides_and_completes_a_gate_as_the_portable_resume_does(
    harness: Harness,
) -> None:
    resources = harness.resources
    fused_wait = await _paused_gate(harness, DECIDED)
    portable_wait = await _paused_gate(harness, DECIDED)

    fused = await _in_one_statement(resources, fused_wait)
    portable = await _portable(resources, portable_wait)

    assert fused is not None and portable is not None
    assert portable.wait is not None
    decided = await _stored_decision(resources, fused_wait.id)
    assert decided[0] == "decided"
    decision, expected = dict(decided[1]), dict(portable.wait.decision or {})
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
    # The portable claim is at the gate, its waiting attempt to complete; the node's resume
    # then makes the output and context the statement wrote itself.
    assert (portable.current_node_id, portable.attempt) == ("gate", 1)
    assert portable.open_step_id is not None
    completed = await _node_resume(resources, portable)
    assert completed.context is not None
    output = completed.output
    assert output == {"outcome": "approved", "by": "rule", "approved": 2, "rejected": 0}
    # The fused claim goes on from the next node, the gate completed.
    assert (fused.current_node_id, fused.wait, fused.open_step_id) == ("after", None, None)
    assert fused.context.node_outputs["gate"] == output
    assert fused.context.approvals == {"gate": decided[1]}
    assert fused.context.model_copy(update={"approvals": {}, "node_outputs": {}}) == (
        completed.context.model_copy(update={"approvals": {}, "node_outputs": {}})
    )
    # What the claim holds is what was stored.
    row = await execution_row(resources, fused_wait.execution_id)
    assert (row.status, row.lease_owner, row.version) == ("running", OWNER, fused.version)
    assert row.current_node_id == "after"
    assert row.context["approvals"] == {"gate": decided[1]}
    assert row.context["node_outputs"]["gate"] == output
    assert row.context["source_data"] == completed.context.source_data
    gate_step = [
        s for s in await steps_of(resources, fused_wait.execution_id) if s.node_id == "gate"
    ]
    assert [(s.status, s.attempt, s.output_summary) for s in gate_step] == [
        ("completed", 1, {"output": output})
    ]
    for wait in (fused_wait, portable_wait):
        assert (await _transition_reasons(resources, wait.execution_id))[-1] == (
            "approval wait decided"
        )


async def _rejected(harness: Harness, **gate: Any) -> Claimed | None:
    """A gate of one approver who rejected, resumed in one statement."""
    definition = gate_workflow(approvers=[{"email": "solo@example.com"}], **gate)
    wait = await _paused_gate(harness, [("rejected", "no", DECIDED[0][2])], definition)
    return await _in_one_statement(harness.resources, wait)


async def test_a_rejection_that_fails_the_run_is_left_to_the_gate_node(harness: Harness) -> None:
    claimed = await _rejected(harness)

    # `on_reject: fail`: the node's resume fails the run, in the worker.
    assert claimed is not None and claimed.wait is not None
    assert (claimed.current_node_id, claimed.wait.decision["outcome"]) == ("gate", "rejected")  # type: ignore[index]
    assert claimed.open_step_id is not None and claimed.context.approvals == {}


async def test_a_rejection_that_continues_completes_the_gate(harness: Harness) -> None:
    claimed = await _rejected(harness, on_reject="continue")

    assert claimed is not None and claimed.current_node_id == "after"
    assert claimed.context.approvals["gate"]["outcome"] == "rejected"
    assert claimed.context.node_outputs["gate"] == {
        "outcome": "rejected", "by": "rule", "approved": 0, "rejected": 1,
    }  # fmt: skip


async def test_a_gate_that_ends_the_workflow_is_left_to_the_gate_node(harness: Harness) -> None:
    definition = gate_workflow(strategy="quorum", required=2)
    definition["nodes"] = definition["nodes"][:2]
    wait = await _paused_gate(harness, DECIDED, definition)

    claimed = await _in_one_statement(harness.resources, wait)

    # The last node's checkpoint completes the run: the worker writes it.
    assert claimed is not None and (claimed.current_node_id, claimed.attempt) == ("gate", 1)
    assert claimed.wait is not None and claimed.context.approvals == {}


async def test_a_gate_whose_context_could_reach_the_limit_is_left_to_the_gate_node(
    harness: Harness,
) -> None:
    wait = await _paused_gate(harness, DECIDED)
    small = approval_resumes(
        harness.resources.engine,
        max_context_bytes=1024,
        max_node_output_bytes=LIMITS["max_node_output_bytes"],
    )

    claimed = await _in_one_statement(harness.resources, wait, small)

    # The worker measures the context as it encodes it and fails the node past the limit.
    assert claimed is not None and claimed.current_node_id == "gate"
    assert claimed.wait is not None and claimed.wait.decision["outcome"] == "approved"  # type: ignore[index]


async def test_a_decided_gate_runs_on_to_the_end_through_the_worker(harness: Harness) -> None:
    """The whole way: decisions through the gateway, the executor's statement, the next node
    reading `approvals.gate.outcome`, the run completed with each step once."""
    execution_id = await harness.start(gate_workflow(strategy="quorum", required=2))
    await wait_for_status(harness.resources, execution_id, "paused")
    links = await harness.links(3)
    for token in list(links.values())[:2]:
        assert await harness.click(token, "approve") < 400

    await wait_for_status(harness.resources, execution_id, "completed")
    row = await execution_row(harness.resources, execution_id)
    assert row.context["node_outputs"]["after"] == {"seen": "approved"}
    assert row.context["node_outputs"]["gate"]["outcome"] == "approved"
    steps = [(s.node_id, s.status) for s in await steps_of(harness.resources, execution_id)]
    assert steps == [
        ("start", "completed"), ("gate", "completed"), ("after", "completed"),
    ]  # fmt: skip


async def test_a_gate_short_of_its_quorum_is_left_waiting_and_nothing_is_written(
    harness: Harness,
) -> None:
    resources = harness.resources
    wait = await _paused_gate(harness, DECIDED[:1])
    before = await execution_row(resources, wait.execution_id)

    # The same resume asked twice at once (a message delivered twice) shares one statement:
    # the gate's one approval must not be counted once per ask.
    worker = approval_resumes(resources.engine, **LIMITS)
    found = await asyncio.gather(*(_in_one_statement(resources, wait, worker) for _ in range(2)))

    assert found == [None, None]
    after = await execution_row(resources, wait.execution_id)
    assert (after.status, after.version) == ("paused", before.version)
    assert await _stored_decision(resources, wait.id) == ("open", None)


async def test_a_decided_gate_resumed_twice_at_once_is_claimed_once(harness: Harness) -> None:
    resources = harness.resources
    wait = await _paused_gate(harness, DECIDED)

    # Asked together on one worker (one statement) and on two others.
    worker = approval_resumes(resources.engine, **LIMITS)
    asks = [_in_one_statement(resources, wait, worker) for _ in range(2)]
    asks += [_in_one_statement(resources, wait) for _ in range(2)]
    found = await asyncio.gather(*asks)

    assert sum(claimed is not None for claimed in found) == 1
    assert (await _transition_reasons(resources, wait.execution_id)).count(
        "approval wait decided"
    ) == 1
