"""The transition table is the single source of the moves: the moves together make exactly the
table's pairs, and each move function changes an execution from exactly the statuses its move
declares — from every other status it writes nothing. Run against the statements themselves
(the PostgreSQL fast paths and the portable ones, on both backends), not the declarations."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from shared.context import ExecutionContext
from shared.db.tables import Execution, Wait
from shared.db.types import utcnow
from shared.errors import StaleVersion
from shared.runtime import Resources
from shared.state_machine import checkpoint, claim, end, lease, resume
from shared.state_machine.checkpoint import Checkpoint, StepRecord
from shared.state_machine.moves import (
    CANCEL,
    CHECKPOINT,
    CLAIM,
    FENCE,
    GIVE_UP,
    HEARTBEAT,
    MOVES,
    RECLAIM,
    RELEASE,
    RESUME,
    RETRY,
    Move,
)
from shared.state_machine.waits import WaitSpec
from shared.status import ALLOWED_MOVES, ExecutionStatus, StepStatus
from tests.support import execution_row, seed_workflow, start_execution

S = ExecutionStatus
OWNER = "w"


def test_the_moves_make_exactly_the_pairs_the_table_allows() -> None:
    declared = {(src, dst) for move in MOVES for src in move.sources for dst in move.targets}
    assert declared == ALLOWED_MOVES


def test_a_move_the_table_forbids_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="forbids"):
        Move("revive", frozenset({S.COMPLETED}), frozenset({S.RUNNING}))


@dataclass(frozen=True)
class _Held:
    execution_id: uuid.UUID
    version: int
    started_at: datetime
    context: ExecutionContext = field(default_factory=ExecutionContext)


async def _claim_queued(resources: Resources, held: _Held) -> bool:
    async def first(_workflow: Any, _version: Any) -> str:
        return "a"

    found = await claim.claim_run(
        resources.engine, held.execution_id, owner="other", lease_seconds=30, first_node_id=first
    )
    return found is not None


async def _reclaim(resources: Resources, held: _Held) -> bool:
    # Time passes: the lease expires (on every status; only a running row may be reclaimed).
    await _set(resources, held.execution_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    return await _claim_queued(resources, held)


async def _retry(resources: Resources, held: _Held) -> bool:
    found = await claim.claim_retry(
        resources.engine, held.execution_id, owner=OWNER, lease_seconds=30
    )
    return found is not None


async def _resume(resources: Resources, held: _Held) -> bool:
    async with resources.sessions() as session:
        wait_id = await session.scalar(
            select(Wait.id).where(Wait.execution_id == held.execution_id)
        )
    assert wait_id is not None

    async def decide(_conn: object, _node: str, _wait: object) -> dict[str, Any]:
        return {"outcome": "decided"}

    found = await resume.claim_resume(
        resources.engine, held.execution_id, wait_id, owner=OWNER, lease_seconds=30, settle=decide
    )
    return found is not None


def _checkpoint_to(status: S) -> Callable[[Resources, _Held], Awaitable[bool]]:
    """A checkpoint that goes on (one statement on PostgreSQL) or pauses (a transaction)."""

    async def move(resources: Resources, held: _Held) -> bool:
        now = utcnow()
        step = StepRecord("a", "set", 99, StepStatus.COMPLETED, now, now, 0)
        wait = WaitSpec(kind="timer", expires_at=now) if status == S.PAUSED else None
        done = Checkpoint(ExecutionContext(), "a", status, step, wait=wait)
        try:
            await checkpoint.commit(resources.engine, held, done, owner=OWNER)
        except StaleVersion:
            return False
        return True

    return move


async def _heartbeat(resources: Resources, held: _Held) -> bool:
    return await lease.extend_lease(resources.engine, held, owner=OWNER, lease_seconds=30)


async def _release(resources: Resources, held: _Held) -> bool:
    return await lease.release(resources.engine, held, owner=OWNER) is not None


async def _fence(resources: Resources, held: _Held) -> bool:
    await _set(resources, held.execution_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    fenced = await lease.fence_expired(resources.sessions, owner="scheduler", batch=100)
    return held.execution_id in [execution_id for execution_id, *_ in fenced]


def _end_as(status: S) -> Callable[[Resources, _Held], Awaitable[bool]]:
    async def move(resources: Resources, held: _Held) -> bool:
        async with resources.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(Execution.__table__).where(Execution.id == held.execution_id)
                )
            ).one()
            return await end.end(conn, row, status, reason="test", owner=OWNER)

    return move


#: Each move function, the move it makes, and the status it leads to from its sources.
CASES: dict[str, tuple[Move, Callable[[Resources, _Held], Awaitable[bool]], S]] = {
    "claim": (CLAIM, _claim_queued, S.RUNNING),
    "reclaim": (RECLAIM, _reclaim, S.RUNNING),
    "retry": (RETRY, _retry, S.RUNNING),
    "resume": (RESUME, _resume, S.RUNNING),
    "checkpoint, going on": (CHECKPOINT, _checkpoint_to(S.RUNNING), S.RUNNING),
    "checkpoint, pausing": (CHECKPOINT, _checkpoint_to(S.PAUSED), S.PAUSED),
    "heartbeat": (HEARTBEAT, _heartbeat, S.RUNNING),
    "release": (RELEASE, _release, S.RUNNING),
    "fence": (FENCE, _fence, S.RUNNING),
    "cancel": (CANCEL, _end_as(S.CANCELLED), S.CANCELLED),
    "give up": (GIVE_UP, _end_as(S.FAILED), S.FAILED),
}


@pytest.mark.parametrize("status", list(S), ids=str)
@pytest.mark.parametrize("case", list(CASES))
async def test_a_move_changes_an_execution_from_its_sources_and_from_no_other_status(
    resources: Resources, case: str, status: S
) -> None:
    move, make, target = CASES[case]
    execution_id = await _execution_in(resources, status)
    before = await execution_row(resources, execution_id)
    held = _Held(execution_id, before.version, before.started_at or utcnow())
    expected = (
        # A claim of a queued run also reclaims a running one whose lease expired.
        status in move.sources or (case == "reclaim" and status in CLAIM.sources)
    )

    moved = await make(resources, held)

    after = await execution_row(resources, execution_id)
    if expected:
        assert moved, f"{case} refused from {status}"
        assert after.status == target
        assert (status, S(after.status)) in ALLOWED_MOVES
        if case == "heartbeat":  # the lease is longer; no new version
            assert after.lease_expires_at and before.lease_expires_at
            assert after.lease_expires_at > before.lease_expires_at
        else:
            assert after.version > before.version
    else:
        assert not moved, f"{case} moved an execution from {status}"
        assert (after.status, after.version) == (before.status, before.version)


async def _execution_in(resources: Resources, status: S) -> uuid.UUID:
    """An execution in `status` at node `a`, held by OWNER (lease not expired, and shorter
    than a heartbeat makes it), with an open timer wait at `a`."""
    definition = {
        "name": "moves",
        "nodes": [{"id": "a", "type": "set", "position": 0, "config": {"values": {"x": 1}}}],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    now = utcnow()
    async with resources.sessions.begin() as session:
        session.add(
            Wait(
                execution_id=execution_id,
                node_id="a",
                kind="timer",
                rule={},
                facts={},
                status="open",
                expires_at=now,
                created_at=now,
            )
        )
    await _set(
        resources,
        execution_id,
        status=status.value,
        version=7,
        current_node_id="a",
        started_at=now,
        lease_owner=OWNER,
        lease_expires_at=now + timedelta(seconds=10),
    )
    return execution_id


async def _set(resources: Resources, execution_id: uuid.UUID, **values: Any) -> None:
    async with resources.sessions.begin() as session:
        await session.execute(
            update(Execution).where(Execution.id == execution_id).values(**values)
        )
