"""Helpers shared by tests: seeding rows, waiting for conditions, a local HTTP receiver."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import func, select

from services.workers import Worker, running
from shared.broker.topology import RUN
from shared.context import ExecutionContext, snapshot, whole
from shared.db.tables import (
    Execution,
    ExecutionOutput,
    ExecutionStep,
    ExecutionTransition,
    OutboxMessage,
    Wait,
    Workflow,
    WorkflowVersion,
    Workspace,
)
from shared.db.tables import (
    Workflow as WorkflowRow,
)
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.nodes.registry import build_config_registry
from shared.outbox import publish_staged, stage
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from shared.workflows import validate_definition

T = TypeVar("T")


class ManualClock:
    """A monotonic clock a test moves by hand (`clock.now += seconds`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool] = bool,
    *,
    within: float = 20.0,
    interval: float = 0.05,
) -> T:
    """Poll `probe` until `accept(result)`, or fail after `timeout` seconds with the last result."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {result!r}")
        await asyncio.sleep(interval)


async def until_heard(
    heard: list[Any], event: str, node_id: str | None = None, *, within: float = 20.0
) -> None:
    """Wait until `heard` (filled by an event subscription) holds `event` for `node_id`.

    Events travel apart from the execution row, so a run seen completed may still have its
    last events on the way; stop listening only after this.
    """

    async def snapshot() -> list[Any]:
        return list(heard)

    await eventually(
        snapshot,
        lambda events: any((e.event, e.node_id) == (event, node_id) for e in events),
        within=within,
    )


def three_node_workflow(url: str, name: str = "deal to webhook") -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "price",
                "type": "set",
                "position": 1,
                "config": {"values": {"total": "{{ source.deal.amount * 2 }}"}},
            },
            {
                "id": "notify",
                "type": "webhook",
                "position": 2,
                "config": {"url": url, "body": {"total": "{{ nodes.price.total }}"}},
            },
        ],
    }


async def seed_workflow(
    resources: Resources, definition: dict[str, Any], *, validate: bool = True
) -> tuple[uuid.UUID, uuid.UUID]:
    """Create a workspace and a workflow; returns (workspace_id, workflow_id).

    `validate=False` admits node types only a test's own executor knows."""
    if validate:
        validate_definition(definition, build_config_registry())
    async with resources.sessions.begin() as session:
        workspace = Workspace(name=f"ws-{uuid.uuid4().hex[:8]}")
        session.add(workspace)
        await session.flush()
        workflow = Workflow(workspace_id=workspace.id, name=definition["name"], current_version=1)
        session.add(workflow)
        await session.flush()
        session.add(WorkflowVersion(workflow_id=workflow.id, version=1, definition=definition))
    return workspace.id, workflow.id


async def add_version(
    resources: Resources, workflow_id: uuid.UUID, definition: dict[str, Any]
) -> int:
    async with resources.sessions.begin() as session:
        workflow = await session.get(WorkflowRow, workflow_id)
        assert workflow is not None
        workflow.current_version += 1
        session.add(
            WorkflowVersion(
                workflow_id=workflow_id, version=workflow.current_version, definition=definition
            )
        )
        return workflow.current_version


async def start_execution(
    resources: Resources,
    workspace_id: uuid.UUID,
    workflow_id: uuid.UUID,
    trigger_data: dict[str, Any] | None = None,
    *,
    publish: bool = True,
    version: int = 1,
) -> uuid.UUID:
    """Accept a run the way the gateway does: queued row + outbox, published after commit."""
    async with resources.sessions.begin() as session:
        execution = Execution(
            workspace_id=workspace_id,
            workflow_id=workflow_id,
            workflow_version=version,
            status="queued",
            version=0,
            context=snapshot(ExecutionContext()),
            trigger_data=trigger_data or {},
            created_at=utcnow(),
        )
        session.add(execution)
        await session.flush()
        session.add(ExecutionTransition(execution_id=execution.id, to_status="queued"))
        staged = await stage(session, RUN, RunExecution(execution_id=execution.id))
    if publish:
        await publish_staged(resources.sessions, resources.broker, [staged])
    return execution.id


async def execution_row(resources: Resources, execution_id: uuid.UUID) -> Execution:
    """The execution, its `context` whole: with the node outputs stored a row each."""
    async with resources.sessions() as session:
        row = await session.get(Execution, execution_id, populate_existing=True)
        assert row is not None
        outputs = (
            await session.execute(
                select(ExecutionOutput.node_id, ExecutionOutput.output)
                .where(ExecutionOutput.execution_id == execution_id)
                .order_by(ExecutionOutput.at, ExecutionOutput.node_id)
            )
        ).all()
        session.expunge(row)
    row.context = whole(row.context, {node_id: output for node_id, output in outputs})
    return row


async def wait_for_status(
    resources: Resources, execution_id: uuid.UUID, *statuses: str, within: float = 20.0
) -> Execution:
    return await eventually(
        lambda: execution_row(resources, execution_id),
        lambda row: row.status in statuses,
        within=within,
    )


async def outbox_rows(resources: Resources) -> int:
    """Outbox rows not yet published (and deleted)."""
    async with resources.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def steps_of(resources: Resources, execution_id: uuid.UUID) -> list[ExecutionStep]:
    async with resources.sessions() as session:
        result = await session.scalars(
            select(ExecutionStep)
            .where(ExecutionStep.execution_id == execution_id)
            .order_by(ExecutionStep.started_at, ExecutionStep.id)
        )
        return list(result)


async def waits_of(resources: Resources, execution_id: uuid.UUID) -> list[Wait]:
    async with resources.sessions() as session:
        result = await session.scalars(
            select(Wait).where(Wait.execution_id == execution_id).order_by(Wait.created_at)
        )
        return list(result)


@dataclass
class Receiver:
    """A local HTTP server standing in for a webhook target; scripted answers, recorded calls."""

    answers: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    #: Added to every answer's JSON body.
    extra: dict[str, Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append({"headers": dict(request.headers), "body": body, "path": request.path})
        if self.delay_seconds:
            # Ends early when the receiver stops, so teardown never waits out a slow answer.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.delay_seconds)
        status = self.answers.pop(0) if self.answers else 200
        answer = {"ok": status < 400, "call": len(self.calls), **self.extra}
        return web.json_response(answer, status=status)

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket private
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def keys(self) -> list[str]:
        return [call["headers"].get("Idempotency-Key", "") for call in self.calls]


@contextlib.asynccontextmanager
async def worker_on(
    settings: Settings, worker: Callable[[Resources], Worker]
) -> AsyncIterator[Resources]:
    """Resources opened with `settings` and a worker built on them, running meanwhile;
    stopped, and the resources closed, after."""
    async with open_resources(settings) as resources, running([worker(resources)]):
        yield resources
