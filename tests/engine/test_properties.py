"""Properties: checkpoints restore what was saved; executions only move as the table allows."""

import dataclasses
import itertools
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from shared.context import ExecutionContext, restore, snapshot
from shared.db.tables import Execution, ExecutionTransition, Wait
from shared.db.types import utcnow
from shared.errors import StaleVersion
from shared.runtime import Resources
from shared.state_machine import checkpoint as checkpoints
from shared.state_machine import claim as claims
from shared.state_machine import end as cancellation
from shared.state_machine import resume
from shared.state_machine.checkpoint import Checkpoint, StepRecord
from shared.state_machine.claimed import Claimed as Claim
from shared.state_machine.waits import WaitSpec
from shared.status import ALLOWED_MOVES, ExecutionStatus, StepStatus
from tests.support import execution_row, seed_workflow, start_execution

# PostgreSQL's jsonb cannot hold U+0000, so contexts never contain it (webhook bodies are
# cleaned of it before they reach the context).
_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)
_objects = st.dictionaries(_text, _json, max_size=4)
contexts = st.builds(
    ExecutionContext,
    source_data=_objects,
    generated_documents=st.lists(_objects, max_size=3),
    signature_requests=_objects,
    approvals=_objects,
    node_outputs=_objects,
    metadata=_objects,
    errors=_objects,
    skipped=st.lists(_text, max_size=3),
)

SLOW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(contexts)
def test_a_context_restored_from_its_snapshot_equals_the_one_saved(
    context: ExecutionContext,
) -> None:
    assert restore(snapshot(context)) == context


@SLOW
@given(contexts)
async def test_a_context_checkpointed_in_the_database_reads_back_equal(
    resources: Resources, context: ExecutionContext
) -> None:
    workspace_id, workflow_id = await _workflow(resources)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    claim = await _claim(resources, execution_id)
    assert claim is not None
    await checkpoints.commit(
        resources.engine,
        claim,
        _checkpoint(context, ExecutionStatus.RUNNING),
        owner="w",
    )
    row = await execution_row(resources, execution_id)
    assert restore(row.context) == context


_attempts = itertools.count(1)

OPERATIONS = [
    "claim",
    "reclaim",
    "checkpoint",
    "pause",
    "resume",
    "complete",
    "fail",
    "retry",
    "cancel",
]


@SLOW
@given(st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=14))
async def test_no_sequence_of_engine_operations_makes_a_move_the_status_table_does_not_list(
    resources: Resources, operations: list[str]
) -> None:
    workspace_id, workflow_id = await _workflow(resources)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    held: Claim | None = None
    for operation in operations:
        before = await execution_row(resources, execution_id)
        held, changed = await _apply(resources, execution_id, operation, held)
        after = await execution_row(resources, execution_id)
        if not changed:
            assert (after.status, after.version) == (before.status, before.version), operation
        else:
            assert (ExecutionStatus(before.status), ExecutionStatus(after.status)) in ALLOWED_MOVES
    async with resources.sessions() as session:
        moves = (
            await session.execute(
                select(ExecutionTransition.from_status, ExecutionTransition.to_status)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.id)
            )
        ).all()
    assert moves[0] == (None, "queued")
    for src, dst in moves[1:]:
        assert src is not None
        assert (ExecutionStatus(src), ExecutionStatus(dst)) in ALLOWED_MOVES
    # The transitions chain: each move starts where the previous one ended.
    for (_, previous_dst), (src, _) in itertools.pairwise(moves):
        assert src == previous_dst
    assert moves[-1][1] == (await execution_row(resources, execution_id)).status


async def _apply(
    resources: Resources, execution_id: uuid.UUID, operation: str, held: Claim | None
) -> tuple[Claim | None, bool]:
    """Run one engine operation; return the claim now held and whether the row moved."""
    engine = resources.engine
    if operation == "claim":
        claim = await _claim(resources, execution_id)
        return (claim, True) if claim else (held, False)
    if operation == "reclaim":
        # Time passes: the lease expires, and another worker claims the run.
        async with resources.sessions.begin() as session:
            await session.execute(
                update(Execution)
                .where(Execution.id == execution_id, Execution.lease_expires_at.is_not(None))
                .values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )
        claim = await _claim(resources, execution_id, owner="other")
        return (claim, True) if claim else (held, False)
    if operation == "retry":
        claim = await claims.claim_retry(engine, execution_id, owner="w", lease_seconds=30)
        return (claim, True) if claim else (held, False)
    if operation == "resume":
        async with resources.sessions() as session:
            wait_id = await session.scalar(
                select(Wait.id).where(Wait.execution_id == execution_id, Wait.status == "open")
            )
        if wait_id is None:
            return held, False
        claim = await resume.claim_resume(
            engine,
            execution_id,
            wait_id,
            owner="w",
            lease_seconds=30,
            settle=_always_decide,
        )
        return (claim, True) if claim else (held, False)
    if operation == "cancel":
        row = await cancellation.cancel(engine, execution_id, reason="test", owner="w")
        return held, row is not None
    if held is None:
        return None, False
    status = {
        "checkpoint": ExecutionStatus.RUNNING,
        "pause": ExecutionStatus.PAUSED,
        "complete": ExecutionStatus.COMPLETED,
        "fail": ExecutionStatus.FAILED,
    }[operation]
    try:
        committed = await checkpoints.commit(
            engine,
            held,
            _checkpoint(held.context, status),
            owner=held_owner(held),
        )
    except StaleVersion:
        return held, False
    # The holder's next write compares against the version its checkpoint wrote.
    return dataclasses.replace(held, version=committed.version), True


async def _always_decide(_conn: object, _node: str, _wait: object) -> dict[str, Any]:
    return {"outcome": "decided"}


def held_owner(_: Claim) -> str:
    return "w"


def _checkpoint(context: ExecutionContext, status: ExecutionStatus) -> Checkpoint:
    now = utcnow()
    wait = WaitSpec(kind="timer", expires_at=now) if status == ExecutionStatus.PAUSED else None
    return Checkpoint(
        context=context,
        current_node_id="a",
        status=status,
        step=StepRecord(
            node_id="a",
            node_type="set",
            attempt=next(_attempts),  # unique per checkpoint in this test
            status=StepStatus.COMPLETED,
            started_at=now,
            completed_at=now,
            duration_ms=0,
        ),
        wait=wait,
        error="failed in test" if status == ExecutionStatus.FAILED else None,
    )


async def _claim(resources: Resources, execution_id: uuid.UUID, owner: str = "w") -> Claim | None:
    async def first(_workflow: Any, _version: Any) -> str:
        return "a"

    return await claims.claim_run(
        resources.engine, execution_id, owner=owner, lease_seconds=30, first_node_id=first
    )


async def _workflow(resources: Resources) -> tuple[uuid.UUID, uuid.UUID]:
    definition = {
        "name": "p",
        "nodes": [{"id": "a", "type": "set", "position": 0, "config": {"values": {"x": 1}}}],
    }
    return await seed_workflow(resources, definition)


@pytest.fixture
def executor() -> None:
    """These properties drive the engine's functions directly; no worker runs."""
