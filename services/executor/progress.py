"""How far this worker has taken a run it claimed: local to the runner, changed as it goes."""

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import context_size
from shared.context import ExecutionContext
from shared.state_machine.claimed import Claimed
from shared.state_machine.waits import WaitRecord


@dataclass
class RunProgress:
    #: What the claim handed over; never changed.
    claimed: Claimed
    #: The row's version after our last write; every later write compares against it.
    version: int
    current_node_id: str | None
    context: ExecutionContext
    #: Attempt number for the current node.
    attempt: int
    #: The decided wait the current node resumes with (its `resume` runs instead of `run`).
    wait: WaitRecord | None
    #: The step row to complete instead of inserting a new one (the waiting attempt).
    open_step_id: int | None
    #: Set by the heartbeat when it found the execution moved on.
    lost: bool = False
    #: False once a checkpoint paused, finished or failed the run: nothing left to heartbeat.
    holding: bool = True
    #: Serializes the heartbeat with checkpoints, so a heartbeat never mistakes our own
    #: checkpoint (which moved `version`) for another writer.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: `context_size.size(context)`, once something asked for it: measured whole from the
    #: context the claim read, then kept by each checkpoint from what it added.
    _context_bytes: int | None = field(default=None, init=False, repr=False)

    @classmethod
    def of(cls, claimed: Claimed) -> "RunProgress":
        return cls(
            claimed=claimed,
            version=claimed.version,
            current_node_id=claimed.current_node_id,
            context=claimed.context,
            attempt=claimed.attempt,
            wait=claimed.wait,
            open_step_id=claimed.open_step_id,
        )

    @property
    def execution_id(self) -> uuid.UUID:
        return self.claimed.execution_id

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.claimed.workspace_id

    @property
    def workflow_id(self) -> uuid.UUID:
        return self.claimed.workflow_id

    @property
    def trigger_data(self) -> dict[str, Any]:
        return self.claimed.trigger_data

    @property
    def started_at(self) -> datetime:
        return self.claimed.started_at

    @property
    def context_bytes(self) -> int:
        """Bytes of the checkpointed context as JSON (`shared/context_size.py`). The first
        call of a claim encodes the context the claim read; later ones cost nothing."""
        if self._context_bytes is None:
            self._context_bytes = context_size.size(self.context)
        return self._context_bytes

    def bytes_of(self, context: ExecutionContext, measured: Mapping[str, int]) -> int:
        """`context_size.size(context)` for a context made from the checkpointed one;
        `measured` holds the encoded sizes of outputs it adds, when known."""
        if context is self.context:
            return self.context_bytes
        return context_size.resized(self.context_bytes, self.context, context, measured)

    def checkpointed(
        self,
        version: int,
        context: ExecutionContext,
        current_node_id: str | None,
        *,
        holding: bool,
        measured: Mapping[str, int] | None = None,
    ) -> None:
        """Our checkpoint committed as `version`, storing `context`; `measured` holds the
        encoded sizes of the outputs it added, when known."""
        if self._context_bytes is not None and context is not self.context:
            self._context_bytes = context_size.resized(
                self._context_bytes, self.context, context, measured
            )
        self.version, self.context, self.current_node_id = version, context, current_node_id
        self.holding = holding

    def next_node(self) -> None:
        """The node is behind us: the next one starts at its first attempt, with no wait."""
        self.attempt, self.wait, self.open_step_id = 1, None, None
