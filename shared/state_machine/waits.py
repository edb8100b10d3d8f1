"""What the engine knows of a wait: the spec a node opens one with, and the record a node is
resumed with. Node types use both; the state machine stores and reads them."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

#: Rows a node writes in the same transaction as its checkpoint (e.g. one approval per approver),
#: so they exist exactly when the checkpoint does.
CheckpointWrites = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(frozen=True)
class WaitSpec:
    #: timer | approval | signature (retry waits are opened by the engine, not by nodes)
    kind: str
    expires_at: datetime | None = None
    rule: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    #: The wait's id; nodes may fix it to link rows of their own (approvals, signers) to it.
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    #: Settle the wait as soon as it is open: facts that arrived before the pause committed
    #: (an early signature webhook) are applied then, not lost.
    settle_on_open: bool = False
    #: The reason that resume carries. `event` waits say `event`, which executors on
    #: PostgreSQL settle in one statement (state_machine/event_resume.py); the rule is the same.
    opened_reason: str = "opened"


@dataclass(frozen=True)
class WaitRecord:
    id: uuid.UUID
    kind: str
    rule: dict[str, Any]
    facts: dict[str, Any]
    decision: dict[str, Any] | None
    expires_at: datetime | None
