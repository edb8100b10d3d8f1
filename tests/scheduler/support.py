"""Rows inserted straight into the tables, and a reader for what reached a work queue."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aio_pika
from sqlalchemy import insert, select

from services.scheduler.worker import Scheduler
from shared.broker.topology import Names
from shared.db.tables import (
    Approval,
    Execution,
    OutboxMessage,
    Wait,
    Workflow,
    WorkflowVersion,
    Workspace,
)
from shared.db.types import utcnow
from shared.messages import Message, decode
from shared.runtime import Resources


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Poll `condition` until it holds; fail at the deadline."""
    async with asyncio.timeout(within):
        # Polling, not an Event: the conditions live in another process (a database, a queue).
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def after_passes(scheduler: Scheduler, count: int = 2) -> None:
    """Return once `scheduler` completed `count` more passes over its duties."""
    target = scheduler.passes + count

    async def done() -> bool:
        return scheduler.passes >= target

    await eventually(done)


@contextlib.asynccontextmanager
async def running(*schedulers: Scheduler) -> AsyncIterator[None]:
    await asyncio.gather(*(s.start() for s in schedulers))
    try:
        yield
    finally:
        await asyncio.gather(*(s.stop() for s in schedulers))


async def insert_execution(
    resources: Resources,
    *,
    status: str = "running",
    version: int = 3,
    lease_owner: str | None = "worker-that-died",
    lease_expires_at: datetime | None = None,
) -> uuid.UUID:
    """A workspace, a workflow with one version, and one execution of it."""
    workspace_id, workflow_id, execution_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with resources.sessions.begin() as session:
        await session.execute(
            insert(Workspace).values(id=workspace_id, name=f"ws-{workspace_id.hex[:8]}")
        )
        await session.execute(
            insert(Workflow).values(id=workflow_id, workspace_id=workspace_id, name="contracts")
        )
        await session.execute(
            insert(WorkflowVersion).values(workflow_id=workflow_id, version=1, definition={})
        )
        await session.execute(
            insert(Execution).values(
                id=execution_id,
                workspace_id=workspace_id,
                workflow_id=workflow_id,
                workflow_version=1,
                status=status,
                version=version,
                context={},
                trigger_data={},
                lease_owner=lease_owner,
                lease_expires_at=lease_expires_at,
            )
        )
    return execution_id


async def insert_wait(
    resources: Resources,
    execution_id: uuid.UUID,
    *,
    expires_at: datetime | None,
    kind: str = "timer",
    status: str = "open",
    fired_at: datetime | None = None,
) -> uuid.UUID:
    wait_id = uuid.uuid4()
    async with resources.sessions.begin() as session:
        await session.execute(
            insert(Wait).values(
                id=wait_id,
                execution_id=execution_id,
                node_id="wait",
                kind=kind,
                rule={},
                facts={},
                status=status,
                expires_at=expires_at,
                fired_at=fired_at,
            )
        )
    return wait_id


@dataclass(frozen=True)
class Gate:
    """An approval gate inserted by `insert_gate`; its approvers are approver<N>@example.com."""

    workspace_id: uuid.UUID
    execution_id: uuid.UUID
    wait_id: uuid.UUID
    node_id: str = "gate"


#: An approver as `insert_gate` writes them: their status and when they decided, if they did.
Approver = tuple[str, datetime | None]
PENDING: Approver = ("pending", None)


async def insert_gate(
    resources: Resources,
    approvers: list[Approver],
    *,
    required: int = 1,
    status: str = "open",
) -> Gate:
    """A paused run on an approval gate (node `gate`) needing `required` approvals, with
    approvers in these statuses, written straight into the tables (nothing else is set)."""
    execution_id = await insert_execution(resources, status="paused", lease_owner=None)
    wait_id = uuid.uuid4()
    async with resources.sessions.begin() as session:
        workspace_id = await session.scalar(
            select(Execution.workspace_id).where(Execution.id == execution_id)
        )
        assert workspace_id is not None
        await session.execute(
            insert(Wait).values(
                id=wait_id,
                execution_id=execution_id,
                node_id="gate",
                kind="approval",
                rule={"strategy": "any" if required == 1 else "all", "required": required},
                facts={},
                status=status,
            )
        )
        for position, (approver_status, decided_at) in enumerate(approvers):
            await session.execute(
                insert(Approval).values(
                    wait_id=wait_id,
                    execution_id=execution_id,
                    workspace_id=workspace_id,
                    node_id="gate",
                    position=position,
                    email=f"approver{position}@example.com",
                    status=approver_status,
                    decided_at=decided_at,
                )
            )
    return Gate(workspace_id, execution_id, wait_id)


async def insert_outbox(
    resources: Resources, queue: str, message: Message, *, age: timedelta
) -> int:
    async with resources.sessions.begin() as session:
        row_id = await session.scalar(
            insert(OutboxMessage)
            .values(queue=queue, body=message.model_dump(mode="json"), created_at=utcnow() - age)
            .returning(OutboxMessage.id)
        )
    assert row_id is not None
    return int(row_id)


class Inbox:
    """Reads one work queue from beside the services: a raw aio-pika connection on RabbitMQ,
    a consumer on the in-process broker (which has no outside)."""

    def __init__(self, resources: Resources, logical: str) -> None:
        self._resources = resources
        self._logical = logical
        self._received: list[Message] = []
        self._taken = 0
        self._connection: Any = None
        self._queue: Any = None
        self._subscription: Any = None

    async def open(self) -> None:
        settings = self._resources.settings
        if settings.is_memory_broker:

            async def keep(message: Message) -> None:
                self._received.append(message)

            self._subscription = await self._resources.broker.consume(
                self._logical, keep, prefetch=1
            )
            return
        self._connection = await aio_pika.connect(settings.amqp_url, timeout=5)
        channel = await self._connection.channel()
        self._queue = await channel.get_queue(
            Names(settings.queue_prefix).queue(self._logical), ensure=False
        )

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
        if self._connection is not None:
            await self._connection.close()

    async def _pull(self) -> bool:
        """Move what the queue holds now into `_received`; False when it held nothing."""
        if self._queue is None:
            await asyncio.sleep(0)  # let the in-process consumer run
            return await self._resources.broker.queue_depth(self._logical) > 0
        incoming = await self._queue.get(no_ack=True, fail=False)
        if incoming is None:
            return False
        self._received.append(decode(incoming.body))
        return True

    async def take(self, count: int, *, within: float = 15.0) -> list[Message]:
        """The next `count` messages; fails if they do not arrive by the deadline."""

        async def arrived() -> bool:
            await self._pull()
            return len(self._received) - self._taken >= count

        await eventually(arrived, within=within)
        taken = self._received[self._taken : self._taken + count]
        self._taken += count
        return taken

    async def rest(self) -> list[Message]:
        """Whatever is in the queue now beyond what was taken."""
        while await self._pull():
            pass
        rest = self._received[self._taken :]
        self._taken = len(self._received)
        return rest


@contextlib.asynccontextmanager
async def inbox(resources: Resources, logical: str) -> AsyncIterator[Inbox]:
    reader = Inbox(resources, logical)
    await reader.open()
    try:
        yield reader
    finally:
        await reader.close()
