"""The gateway's route table: every resource's operations, which app.py registers and
common/openapi.py describes, so a route cannot be served without being documented.

The operator console's pages (`pages()`) are registered beside them but not described: they
are HTML for people, not an API (docs/decisions/022)."""

import functools
from typing import Any

from services.gateway.api_keys import routes as api_keys
from services.gateway.approvals import routes as approvals
from services.gateway.common import openapi
from services.gateway.common.auth import needs_key
from services.gateway.common.operations import NO_SCHEMA, Answer, Operation
from services.gateway.common.routing import API_PREFIX
from services.gateway.connections import routes as connections
from services.gateway.console import routes as console
from services.gateway.documents import routes as documents
from services.gateway.executions import routes as executions
from services.gateway.health import routes as health
from services.gateway.hooks import routes as hooks
from services.gateway.signatures import routes as signatures
from services.gateway.workflows import routes as workflows
from services.gateway.workspace import routes as workspace
from shared.nodes.base import NodeConfig
from shared.nodes.registry import ConfigRegistry
from shared.workflows import WorkflowDefinition

#: Served only when the settings say so (`DOCFLOW_METRICS_ON_API_PORT`); always documented.
OPTIONAL_PATHS = frozenset({health.METRICS_PATH})


def operations() -> list[Operation]:
    return [
        *health.operations(),
        Operation(
            "GET",
            f"{API_PREFIX}/openapi.json",
            openapi.serve,
            operation_id="openapi",
            summary="This document",
            responses={200: Answer("OpenAPI 3.1", {"application/json": NO_SCHEMA})},
        ),
        *workflows.operations(),
        *executions.operations(),
        *approvals.operations(),
        *signatures.operations(),
        *documents.operations(),
        *hooks.operations(),
        *connections.operations(),
        *api_keys.operations(),
        *workspace.operations(),
    ]


def pages() -> list[Operation]:
    """Served, not in the OpenAPI document."""
    return console.operations()


def document(registry: ConfigRegistry) -> dict[str, Any]:
    """Node config schemas are listed too, so clients can see what each `type` accepts.

    Built once per set of node types and shared (read-only: it is only ever served): building
    it takes a fifth of a second of JSON Schema generation, which every gateway a test started
    paid again, a quarter of the test process's CPU in the gateway's tests."""
    return _document(tuple(registry.items()))


@functools.cache
def _document(node_configs: tuple[tuple[str, type[NodeConfig]], ...]) -> dict[str, Any]:
    node_types = ", ".join(f"`{name}` ({model.__name__})" for name, model in node_configs)
    return openapi.build_document(
        operations(),
        models=[WorkflowDefinition, *(model for _, model in node_configs)],
        public=lambda template: not needs_key(template),
        description=(
            "Durable document workflows. Errors are RFC 9457 problem documents. "
            f"Node types: {node_types}."
        ),
    )
