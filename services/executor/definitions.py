"""Workflow versions, parsed once per worker. A version never changes, so caching is safe."""

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.nodes.base import NodeType
from services.executor.nodes.registry import NodeRegistry, lookup
from shared.config_secrets import opened
from shared.connections.crypto import Sealer
from shared.db.tables import WorkflowVersion
from shared.errors import NotFound
from shared.nodes.base import NodeConfig, RetryPolicy
from shared.workflows import WorkflowDefinition, parse_config


@dataclass(frozen=True)
class PreparedNode:
    id: str
    type_name: str
    node_type: NodeType
    config: NodeConfig
    retry: RetryPolicy
    #: Skip the node when this template is falsy; None: always run.
    when: str | None = None
    #: `continue`: a failure (retries spent) is recorded in `errors` and the run goes on.
    on_error: str = "fail"


@dataclass(frozen=True)
class PreparedWorkflow:
    workflow_id: uuid.UUID
    version: int
    nodes: tuple[PreparedNode, ...]
    #: Nodes of type `event`: templates may name their resume URLs (`waits.<id>.resume_url`).
    event_node_ids: frozenset[str] = frozenset()

    def index_of(self, node_id: str | None) -> int:
        if node_id is None:
            return 0
        for index, node in enumerate(self.nodes):
            if node.id == node_id:
                return index
        raise NotFound("node", node_id)

    def node(self, node_id: str) -> PreparedNode:
        return self.nodes[self.index_of(node_id)]


class Definitions:
    def __init__(
        self,
        engine: AsyncEngine,
        registry: NodeRegistry,
        capacity: int = 512,
        *,
        secret_key: str = "",
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._secret_key = secret_key
        self._capacity = capacity
        self._cache: OrderedDict[tuple[uuid.UUID, int], PreparedWorkflow] = OrderedDict()
        #: Versions being read: runs of a version not cached yet wait for the one read (a
        #: worker that starts under a burst would otherwise read it once per prefetched run).
        self._loading: dict[tuple[uuid.UUID, int], asyncio.Future[PreparedWorkflow]] = {}

    async def get(self, workflow_id: uuid.UUID, version: int) -> PreparedWorkflow:
        key = (workflow_id, version)
        prepared = self._cache.get(key)
        if prepared is not None:
            self._cache.move_to_end(key)
            return prepared
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key))
        # shield(): a waiter cancelled must not cancel the read that the others wait for.
        return await asyncio.shield(loading)

    async def _load(self, key: tuple[uuid.UUID, int]) -> PreparedWorkflow:
        workflow_id, version = key
        try:
            async with self._engine.connect() as conn:
                raw = await conn.scalar(
                    select(WorkflowVersion.definition).where(
                        WorkflowVersion.workflow_id == workflow_id,
                        WorkflowVersion.version == version,
                    )
                )
        finally:
            del self._loading[key]
        if raw is None:
            raise NotFound("workflow version", f"{workflow_id}@{version}")
        prepared = self._prepare(workflow_id, version, WorkflowDefinition.model_validate(raw))
        self._cache[key] = prepared
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return prepared

    async def first_node_id(self, workflow_id: uuid.UUID, version: int) -> str:
        return (await self.get(workflow_id, version)).nodes[0].id

    def _prepare(
        self, workflow_id: uuid.UUID, version: int, definition: WorkflowDefinition
    ) -> PreparedWorkflow:
        nodes = []
        for node in definition.ordered_nodes():
            node_type = lookup(self._registry, node.type)
            raw = opened(node.config, node_type.config_model, self._sealer)
            config = parse_config(node_type.config_model, raw)
            nodes.append(
                PreparedNode(
                    id=node.id,
                    type_name=node.type,
                    node_type=node_type,
                    config=config,
                    retry=config.retry or node_type.default_retry,
                    when=node.when,
                    on_error=node.on_error,
                )
            )
        events = frozenset(node.id for node in nodes if node.type_name == "event")
        return PreparedWorkflow(workflow_id, version, tuple(nodes), events)

    def _sealer(self) -> Sealer:
        # Built only for a version that holds a sealed secret.
        return Sealer(self._secret_key)
