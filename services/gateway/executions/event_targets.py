"""Which `event` node an external event is for, and whether its payload fits the node's schema.

An execution is pinned to a workflow version, and a version never changes, so each version's
event nodes (and their compiled JSON Schemas) are read once per gateway process.
"""

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.tables import Execution, WorkflowVersion
from shared.nodes.event import EventConfig
from shared.workflows import WorkflowDefinition, parse_config


@dataclass(frozen=True)
class EventNode:
    node_id: str
    config: EventConfig
    validator: jsonschema.protocols.Validator | None

    def problem_with(self, payload: Any) -> str | None:
        """Why the payload does not match the node's schema; None when it does (or has none)."""
        if self.validator is None:
            return None
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(payload))
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path)
        return f"{error.message} (at /{where})" if where else error.message


@dataclass(frozen=True)
class Target:
    execution_id: uuid.UUID
    workspace_id: uuid.UUID
    node: EventNode


@dataclass(frozen=True)
class _EventNodes:
    by_id: dict[str, EventNode]
    by_name: dict[str, EventNode]


class EventTargets:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, reads: int, capacity: int = 512
    ) -> None:
        """At most `reads` versions read at once: on PostgreSQL a burst of events for a version
        not cached yet would otherwise take a connection each, beyond what the pool keeps (the
        portable path, which also reads the pin, holds a slot of the handler's)."""
        self._sessions = sessions
        self._reads = asyncio.Semaphore(reads)
        self._capacity = capacity
        self._versions: OrderedDict[tuple[uuid.UUID, int], _EventNodes] = OrderedDict()

    async def find(
        self,
        execution_id: uuid.UUID,
        *,
        workspace_id: uuid.UUID | None = None,
        name: str | None = None,
        node_id: str | None = None,
    ) -> Target | None:
        """The event node named `name` (or with id `node_id`) of the execution's pinned
        workflow; None when there is no such execution (in `workspace_id`, when given) or no
        such event node."""
        pin = await self._pin(execution_id)
        if pin is None or (workspace_id is not None and pin[0] != workspace_id):
            return None
        nodes = await self._event_nodes(pin[1], pin[2])
        found = nodes.by_name.get(name) if name is not None else nodes.by_id.get(node_id or "")
        if found is None:
            return None
        return Target(execution_id, pin[0], found)

    async def node(self, workflow_id: uuid.UUID, version: int, node_id: str) -> EventNode | None:
        """The event node `node_id` of a workflow version (its compiled schema cached)."""
        return (await self._event_nodes(workflow_id, version)).by_id.get(node_id)

    async def _pin(self, execution_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, int] | None:
        """(workspace, workflow, version) of the execution. Only the portable path asks: on
        PostgreSQL the statement that records an event finds the pin itself."""
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(
                        Execution.workspace_id, Execution.workflow_id, Execution.workflow_version
                    ).where(Execution.id == execution_id)
                )
            ).first()
        if found is None:
            return None
        return found[0], found[1], found[2]

    async def _event_nodes(self, workflow_id: uuid.UUID, version: int) -> _EventNodes:
        key = (workflow_id, version)
        cached = self._versions.get(key)
        if cached is not None:
            self._versions.move_to_end(key)
            return cached
        async with self._reads, self._sessions() as session:
            raw = await session.scalar(
                select(WorkflowVersion.definition).where(
                    WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.version == version
                )
            )
        nodes = _parse(raw)
        self._versions[key] = nodes
        if len(self._versions) > self._capacity:
            self._versions.popitem(last=False)
        return nodes


def _parse(raw: Any) -> _EventNodes:
    by_id: dict[str, EventNode] = {}
    if raw is not None:
        for node in WorkflowDefinition.model_validate(raw).nodes:
            if node.type != "event":
                continue
            config = parse_config(EventConfig, node.config)
            assert isinstance(config, EventConfig)
            validator = None
            if config.payload_schema is not None:
                validator = jsonschema.Draft202012Validator(config.payload_schema)
            by_id[node.id] = EventNode(node.id, config, validator)
    return _EventNodes(by_id, {node.config.name: node for node in by_id.values()})
