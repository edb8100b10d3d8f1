"""What a node type is, what it is given, and what it may answer."""

import abc
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.context import ExecutionContext
from shared.messages import Message
from shared.nodes.base import NodeConfig, RetryPolicy
from shared.resume_urls import WaitLinks
from shared.settings import Settings
from shared.state_machine.waits import CheckpointWrites, WaitRecord, WaitSpec
from shared.template_budget import budgeted
from shared.templating import render_deep


@dataclass(frozen=True)
class Completed:
    output: Any = None
    #: A node that changes more of the context than its own output (e.g. `trigger`) says so here.
    context: ExecutionContext | None = None
    #: Messages published after the checkpoint commits, through the outbox: (queue, message).
    outbox: list[tuple[str, Message]] = field(default_factory=list)
    writes: CheckpointWrites | None = None


@dataclass(frozen=True)
class Wait:
    spec: WaitSpec
    output: Any = None
    #: Messages published after the pause commits, through the outbox (e.g. e-mails).
    outbox: list[tuple[str, Message]] = field(default_factory=list)
    writes: CheckpointWrites | None = None


@dataclass(frozen=True)
class Failed:
    error: str
    retryable: bool = False
    #: What failed, as `errors.<node id>.type` shows it to later nodes (`on_error: continue`):
    #: None is the node's own failure (`transient` if retryable, else `permanent`); the engine
    #: sets `template` (a config or `when` that did not render) and `internal` (the node raised).
    kind: str | None = None


NodeResult = Completed | Wait | Failed


@dataclass(frozen=True)
class NodeServices:
    """What nodes may use to reach the world; built once per worker."""

    settings: Settings
    http: aiohttp.ClientSession
    #: For nodes that keep what they produced in their own short transactions before the
    #: checkpoint (generated documents), so a re-run after a crash finds it. None only where
    #: services are built by hand without a database.
    engine: AsyncEngine | None = None


@dataclass(frozen=True)
class NodeCall:
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workspace_id: uuid.UUID
    node_id: str
    attempt: int
    config: NodeConfig
    context: ExecutionContext
    trigger_data: dict[str, Any]
    services: NodeServices
    #: The workflow's `event` nodes, whose resume URLs templates may use.
    event_node_ids: frozenset[str] = frozenset()

    @property
    def idempotency_key(self) -> str:
        """The same on every attempt of this node, so receivers can de-duplicate."""
        return f"{self.execution_id}:{self.node_id}"

    def render(self, value: Any) -> Any:
        settings = self.services.settings
        with budgeted(settings.template_budget_seconds, settings.template_budget_bytes):
            return render_deep(value, self.namespace())

    def namespace(self) -> dict[str, Any]:
        """The names every template of this node sees (configs, e-mail bodies, documents)."""
        namespace = self.context.template_namespace()
        namespace["execution"] = {
            "id": str(self.execution_id),
            "workflow_id": str(self.workflow_id),
        }
        settings = self.services.settings
        namespace["waits"] = WaitLinks(
            settings.public_url, settings.secret_key, self.execution_id, self.event_node_ids
        )
        return namespace


class NodeType(abc.ABC):
    """One class per node type. Instances are stateless and shared by every execution."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[NodeConfig]]
    #: Nodes that reach the outside world get a durable "running" step before they start, so an
    #: interrupted attempt stays visible; pure nodes skip that write.
    side_effects: ClassVar[bool] = False
    default_retry: ClassVar[RetryPolicy] = RetryPolicy()

    @abc.abstractmethod
    async def run(self, call: NodeCall) -> NodeResult: ...

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        """Decide a wait from its facts, or return None to keep waiting.

        Runs inside the transaction that decides the wait and resumes the execution, with the
        wait's row locked and read `open`, so facts read through `conn` (approvals, signers)
        are the ones the decision is based on. `reason`
        is why the wait is looked at: `timer_due` / `expired` (from the scheduler), `fact` (a new
        fact was recorded) or `opened` (the wait was just opened; facts may have come early).
        The default fits timers: the wait decides when its time is due.
        """
        if reason in ("timer_due", "expired"):
            return {"outcome": "timer_due"}
        return None

    def wait_status(self, decision: dict[str, Any]) -> str:
        """The status the wait is stored with once `settle` decided it: `decided`, or
        `expired` when the deadline ended it without the decision it waited for."""
        return "decided"

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        """Called once when this node's wait decided; the default completes with the decision."""
        return Completed(output=wait.decision)
