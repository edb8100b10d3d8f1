"""What a claim hands its worker: the execution as it was when the claim committed."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.context import ExecutionContext
from shared.state_machine.waits import WaitRecord


@dataclass(frozen=True)
class Claimed:
    """An execution this worker now holds the lease of. Never changed: how far the worker
    has since taken it is the worker's own business (services/executor/progress.py)."""

    execution_id: uuid.UUID
    workspace_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    #: The row's version the claim wrote; the worker's first write compares against it.
    version: int
    current_node_id: str | None
    context: ExecutionContext
    trigger_data: dict[str, Any]
    started_at: datetime
    #: Attempt number for the current node.
    attempt: int = 1
    #: Set when resuming a decided wait: the node's `resume` runs instead of `run`.
    wait: WaitRecord | None = None
    #: The step row to complete instead of inserting a new one (the waiting attempt).
    open_step_id: int | None = None
    #: Claimed from `queued`: the run starts now (not a reclaim, retry or resume).
    first_claim: bool = False


class Held(Protocol):
    """What a lease holder's write compares against: the execution and the version it last
    wrote (a `Claimed`, or a worker's progress since)."""

    @property
    def execution_id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


class HeldRun(Held, Protocol):
    """A held run as its checkpoint needs it."""

    @property
    def started_at(self) -> datetime: ...

    #: The context as last checkpointed: a checkpoint writes what it adds to it.
    @property
    def context(self) -> ExecutionContext: ...
