"""Recording an external event for an `event` node, and the resume staged with it.

The gateway records the fact; the executor decides the wait. First the event node is found
(the execution's, in the caller's workspace, by event name or node id) and the payload checked
against its schema: no such node is `NoSuchEventWait`, a payload that does not match is
`PayloadMismatch`, and neither records anything. Then, in one transaction:
- a repeat (the same de-duplication key: an `Idempotency-Key`, or a resume token's hash) is
  answered as the first delivery was, and records nothing;
- the node's latest wait is share-locked (the executor locks it exclusively to decide it), so
  an event is either seen by the deciding transaction or finds the wait decided — never lost;
- the event is `accepted` while the node's wait is open (or not opened yet: an early event),
  its deadline has not passed, the execution has not finished, and no other event was accepted
  for the node (a partial unique index makes that last check hold under concurrency);
  otherwise it is recorded `late` and changes nothing;
- an accepted event stages the resume of its open wait, or `EventArrived` when no open wait
  was visible yet.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.gateway.executions.event_targets import EventTargets, Target
from services.gateway.executions.wait_event_sql import Ask, EventRecordings, Row, resume_message
from shared.broker.topology import RESUME
from shared.db.errors import retrying
from shared.db.tables import Execution, Wait, WaitEvent
from shared.outbox import Staged, stage
from shared.status import ExecutionStatus as S

FINISHED = (S.COMPLETED.value, S.FAILED.value, S.CANCELLED.value)


@dataclass(frozen=True)
class Lookup:
    """Which event node a delivery is for."""

    execution_id: uuid.UUID
    #: The caller's workspace (an API key); None for a resume URL, whose token names the run.
    workspace_id: uuid.UUID | None
    #: The event's name (the API) or the node's id (a resume URL).
    name: str | None = None
    node_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    lookup: Lookup
    payload: Any
    dedup_key: str
    #: api | url
    via: str
    at: datetime


@dataclass(frozen=True)
class Recorded:
    event_id: int
    #: accepted | late
    status: str
    #: This delivery repeated an earlier one; the answer is the earlier one's.
    repeat: bool
    node_id: str
    #: The event's name.
    name: str
    staged: Staged | None = None


class NoSuchEventWait(Exception):
    """No such execution (in the caller's workspace), or no such event node in it."""


class PayloadMismatch(Exception):
    """The payload does not match the node's schema; nothing was recorded."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


async def record(
    sessions: async_sessionmaker[AsyncSession],
    targets: EventTargets,
    recordings: EventRecordings | None,
    delivery: Delivery,
) -> Recorded:
    """Tried again while the database refuses or drops the connection, then
    `DatabaseUnavailable`. A try whose commit went through but whose answer was lost is
    found again by its de-duplication key, as a repeat. On PostgreSQL `recordings` writes it
    (with the events delivered meanwhile); elsewhere it is None. Raises `NoSuchEventWait` and
    `PayloadMismatch`."""
    if recordings is not None:
        return await retrying(
            lambda: _in_one_statement(recordings, targets, delivery), what="wait event"
        )
    return await retrying(
        lambda: _statement_by_statement(sessions, targets, delivery), what="wait event"
    )


def recordings_for(engine: AsyncEngine) -> EventRecordings | None:
    """The group commit of events on PostgreSQL (asyncpg); None elsewhere."""
    if engine.dialect.driver == "asyncpg":
        return EventRecordings(engine, queue=RESUME)
    return None


async def _in_one_statement(
    recordings: EventRecordings, targets: EventTargets, delivery: Delivery
) -> Recorded:
    lookup, at = delivery.lookup, delivery.at

    async def run(node_id: str | None, name: str | None, *, checked: bool) -> Row:
        return await recordings.record(
            Ask(
                execution_id=lookup.execution_id,
                workspace_id=lookup.workspace_id,
                node_id=node_id,
                name=name,
                dedup_key=delivery.dedup_key,
                via=delivery.via,
                payload=delivery.payload,
                at=at,
                checked=checked,
            )
        )

    row = await run(lookup.node_id, lookup.name, checked=False)
    if row.node_id is not None and row.event_id is None:
        # The node has a schema: check the payload against it, then record.
        assert row.workflow_id is not None and row.workflow_version is not None
        node = await targets.node(row.workflow_id, row.workflow_version, row.node_id)
        problem = node.problem_with(delivery.payload) if node is not None else None
        if problem is not None:
            raise PayloadMismatch(problem)
        row = await run(row.node_id, None, checked=True)
    if row.node_id is None or row.name is None or row.event_id is None or row.status is None:
        raise NoSuchEventWait()
    staged = None
    if row.outbox_id is not None:
        message = resume_message(lookup.execution_id, row.node_id, row.wait_id, at)
        staged = Staged(row.outbox_id, RESUME, message)
    return Recorded(row.event_id, row.status, row.repeat, row.node_id, row.name, staged)


async def _statement_by_statement(
    sessions: async_sessionmaker[AsyncSession], targets: EventTargets, delivery: Delivery
) -> Recorded:
    lookup = delivery.lookup
    target = await targets.find(
        lookup.execution_id,
        workspace_id=lookup.workspace_id,
        name=lookup.name,
        node_id=lookup.node_id,
    )
    if target is None:
        raise NoSuchEventWait()
    problem = target.node.problem_with(delivery.payload)
    if problem is not None:
        raise PayloadMismatch(problem)
    async with sessions.begin() as session:
        prior = await _prior(session, target, delivery)
        if prior is not None:
            return prior
        execution_status = await session.scalar(
            select(Execution.status).where(Execution.id == target.execution_id)
        )
        wait = (
            await session.execute(
                select(Wait.id, Wait.status, Wait.expires_at)
                .where(
                    Wait.execution_id == target.execution_id,
                    Wait.node_id == target.node.node_id,
                    Wait.kind == "event",
                )
                .order_by(Wait.created_at.desc())
                .limit(1)
                .with_for_update(read=True)
            )
        ).first()
        on_time = execution_status not in FINISHED and (
            wait is None
            or (
                wait.status == "open" and (wait.expires_at is None or wait.expires_at > delivery.at)
            )
        )
        wait_id = wait.id if wait is not None else None
        event_id = None
        if on_time:
            event_id = await _insert(session, target, delivery, "accepted", wait_id)
            if event_id is None:  # another event was accepted first, or this one repeats
                prior = await _prior(session, target, delivery)
                if prior is not None:
                    return prior
        if event_id is None:
            event_id = await _insert(session, target, delivery, "late", wait_id)
            if event_id is None:
                prior = await _prior(session, target, delivery)
                assert prior is not None, "a late insert conflicts only with a repeat"
                return prior
            return _recorded(target, event_id, "late", repeat=False)
        message = resume_message(target.execution_id, target.node.node_id, wait_id, delivery.at)
        staged = await stage(session, RESUME, message)
    return _recorded(target, event_id, "accepted", repeat=False, staged=staged)


def _recorded(
    target: Target, event_id: int, status: str, *, repeat: bool, staged: Staged | None = None
) -> Recorded:
    node = target.node
    return Recorded(event_id, status, repeat, node.node_id, node.config.name, staged)


async def _prior(session: AsyncSession, target: Target, delivery: Delivery) -> Recorded | None:
    row = (
        await session.execute(
            select(WaitEvent.id, WaitEvent.status).where(
                WaitEvent.execution_id == target.execution_id,
                WaitEvent.node_id == target.node.node_id,
                WaitEvent.dedup_key == delivery.dedup_key,
            )
        )
    ).first()
    return None if row is None else _recorded(target, row.id, row.status, repeat=True)


async def _insert(
    session: AsyncSession,
    target: Target,
    delivery: Delivery,
    status: str,
    wait_id: uuid.UUID | None,
) -> int | None:
    """The new event's id; None when a unique index refused it."""
    try:
        async with session.begin_nested():
            event_id: int | None = await session.scalar(
                insert(WaitEvent)
                .values(
                    workspace_id=target.workspace_id,
                    execution_id=target.execution_id,
                    node_id=target.node.node_id,
                    name=target.node.config.name,
                    dedup_key=delivery.dedup_key,
                    via=delivery.via,
                    status=status,
                    payload=delivery.payload,
                    wait_id=wait_id if status == "accepted" else None,
                    received_at=delivery.at,
                )
                .returning(WaitEvent.id)
            )
    except IntegrityError:
        return None
    return event_id
