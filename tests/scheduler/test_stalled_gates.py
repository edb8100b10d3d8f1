"""Recording a decision marks its gate (`waits.last_decided_at`), and the stalled-gates pass
resumes gates the recorded decisions decide through that mark alone, on both backends."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select

from services.gateway.approvals import decisions
from services.gateway.approvals.decisions import ByApprover, Recorded, Refusal
from services.scheduler.stalled_resumes import StalledResumes
from shared.broker.topology import RESUME
from shared.db.tables import OutboxMessage, Wait
from shared.db.types import utcnow
from shared.messages import ResumeExecution
from shared.runtime import Resources
from tests.scheduler.support import PENDING, Gate, inbox, insert_gate

Record = Callable[[Resources, Gate, int, datetime], Awaitable[Recorded | Refusal]]


def by_approver(gate: Gate, position: int) -> ByApprover:
    return ByApprover(
        workspace_id=gate.workspace_id,
        execution_id=gate.execution_id,
        node_id=gate.node_id,
        email=f"approver{position}@example.com",
        key_hash="no such key",
    )


async def as_the_backend_records(
    resources: Resources, gate: Gate, position: int, at: datetime
) -> Recorded | Refusal:
    """The gateway's way: one statement on PostgreSQL, statement by statement on SQLite."""
    return await decisions.record(
        resources.sessions,
        by_approver(gate, position),
        decision="approved",
        comment=None,
        client_ip=None,
        user_agent=None,
        now=at,
    )


async def statement_by_statement(
    resources: Resources, gate: Gate, position: int, at: datetime
) -> Recorded | Refusal:
    """The portable path, whatever the backend (on PostgreSQL it is otherwise not taken)."""
    values = decisions._Decision("approved", None, None, None, at)
    return await decisions._statement_by_statement(
        resources.sessions, by_approver(gate, position), values
    )


async def last_decided_at(resources: Resources, wait_id: uuid.UUID) -> datetime | None:
    async with resources.sessions() as session:
        return await session.scalar(select(Wait.last_decided_at).where(Wait.id == wait_id))


@pytest.mark.parametrize("record", [as_the_backend_records, statement_by_statement])
async def test_recording_a_decision_marks_the_open_gate_with_the_latest_decision(
    resources: Resources, record: Record
) -> None:
    gate = await insert_gate(resources, [PENDING, PENDING, PENDING], required=3)
    assert await last_decided_at(resources, gate.wait_id) is None
    first = utcnow() - timedelta(seconds=30)

    assert isinstance(await record(resources, gate, 0, first), Recorded)
    assert await last_decided_at(resources, gate.wait_id) == first

    second = first + timedelta(seconds=10)
    assert isinstance(await record(resources, gate, 1, second), Recorded)
    assert await last_decided_at(resources, gate.wait_id) == second

    # Never moved back, should a decision carry an older time than the gate's mark.
    assert isinstance(await record(resources, gate, 2, first - timedelta(seconds=5)), Recorded)
    assert await last_decided_at(resources, gate.wait_id) == second


@pytest.mark.parametrize("record", [as_the_backend_records, statement_by_statement])
async def test_a_late_decision_leaves_a_closed_gate_unmarked(
    resources: Resources, record: Record
) -> None:
    gate = await insert_gate(resources, [PENDING], status="decided")

    recorded = await record(resources, gate, 0, utcnow())

    assert isinstance(recorded, Recorded) and recorded.late
    assert await last_decided_at(resources, gate.wait_id) is None


async def test_a_gate_decided_by_recorded_decisions_but_left_open_is_resumed_again(
    resources: Resources,
) -> None:
    long_ago = utcnow() - timedelta(seconds=resources.settings.stalled_resume_after_seconds * 2)
    decided = await insert_gate(resources, [PENDING, PENDING], required=1)
    # One of two approvals an all-of gate needs: decided on, not decided.
    halfway = await insert_gate(resources, [PENDING, PENDING], required=2)
    untouched = await insert_gate(resources, [PENDING, PENDING], required=1)
    for gate in (decided, halfway):
        recorded = await as_the_backend_records(resources, gate, 0, long_ago)
        assert isinstance(recorded, Recorded) and recorded.staged is not None
    # Each resume was published, then lost: nothing left in the outbox to send it again.
    async with resources.sessions.begin() as session:
        await session.execute(delete(OutboxMessage))

    async with inbox(resources, RESUME) as resumes:
        assert await StalledResumes()(resources, batch=100) == 1
        [message] = await resumes.take(1)
        assert await resumes.rest() == []

    assert isinstance(message, ResumeExecution)
    assert (message.execution_id, message.wait_id, message.reason) == (
        decided.execution_id,
        decided.wait_id,
        "fact",
    )
    assert untouched.wait_id != message.wait_id


async def test_a_decision_younger_than_the_threshold_is_left_to_its_own_resume(
    resources: Resources,
) -> None:
    gate = await insert_gate(resources, [PENDING], required=1)
    recorded = await as_the_backend_records(resources, gate, 0, utcnow())
    assert isinstance(recorded, Recorded)
    async with resources.sessions.begin() as session:
        await session.execute(delete(OutboxMessage))

    assert await StalledResumes()(resources, batch=100) == 0
