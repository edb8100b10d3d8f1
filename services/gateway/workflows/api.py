"""Handlers for /api/v1/workflows: validate, seal secrets, call the store, shape the answer."""

import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from services.gateway.common.bodies import json_object, path_id, query_int
from services.gateway.common.problems import Problem
from services.gateway.keys import REGISTRY, RESOURCES, workspace_of
from services.gateway.signatures.connections import check_signature_connections
from services.gateway.workflows import views
from services.gateway.workflows.store import (
    create_workflow,
    get_workflow,
    list_workflows,
    update_workflow,
)
from shared.config_secrets import same_definition, seal_secrets, take_kept
from shared.connections.crypto import Sealer, SecretKeyMissing
from shared.workflows import WorkflowDefinition, definition_warnings, validate_definition

#: Above any version a workflow will reach; bounds the integer before it reaches SQL.
MAX_VERSION = 2**31 - 1


def _sealer(request: web.Request) -> Callable[[], Sealer]:
    def make() -> Sealer:
        try:
            return Sealer(request.app[RESOURCES].settings.secret_key)
        except SecretKeyMissing as e:
            detail = f"{e}; node secrets (a webhook's secret) are stored encrypted"
            raise Problem(503, "not-configured", detail) from e

    return make


async def _definition(
    request: web.Request, workflow_id: uuid.UUID | None
) -> tuple[WorkflowDefinition, dict[str, Any]]:
    """The definition as sent, and as it is kept: each secret sealed, or the saved one kept
    where the body says `{"set": true}`."""
    registry = request.app[REGISTRY]
    raw = await json_object(request)
    kept = take_kept(raw, registry)
    definition = validate_definition(raw, registry)
    previous = None
    if kept and workflow_id is not None:
        saved = await get_workflow(
            request.app[RESOURCES].sessions, workspace_of(request), workflow_id
        )
        previous = saved.definition
    stored = seal_secrets(
        definition.model_dump(mode="json"), registry, _sealer(request), kept, previous
    )
    return definition, stored


async def create(request: web.Request) -> web.Response:
    definition, stored = await _definition(request, None)
    await check_signature_connections(
        request.app[RESOURCES].sessions, workspace_of(request), definition
    )
    record = await create_workflow(
        request.app[RESOURCES].sessions, workspace_of(request), definition, stored
    )
    location = str(request.app.router["workflow"].url_for(workflow_id=str(record.id)))
    body = views.workflow(record, request.app[REGISTRY], warnings=definition_warnings(definition))
    return web.json_response(body, status=201, headers={"Location": location})


async def list_all(request: web.Request) -> web.Response:
    summaries = await list_workflows(request.app[RESOURCES].sessions, workspace_of(request))
    return web.json_response({"items": [views.workflow_summary(s) for s in summaries]})


async def read(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    version = query_int(request, "version", default=None, minimum=1, maximum=MAX_VERSION)
    record = await get_workflow(
        request.app[RESOURCES].sessions, workspace_of(request), workflow_id, version
    )
    return web.json_response(views.workflow(record, request.app[REGISTRY]))


async def replace(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    definition, stored = await _definition(request, workflow_id)
    sessions, registry = request.app[RESOURCES].sessions, request.app[REGISTRY]
    current = await get_workflow(sessions, workspace_of(request), workflow_id)
    warnings = definition_warnings(definition)
    if same_definition(stored, current.definition, registry, _sealer(request)):
        # Applying an unchanged file again is not a new version.
        body = views.workflow(current, registry, warnings=warnings)
        return web.json_response({**body, "changed": False})
    await check_signature_connections(sessions, workspace_of(request), definition)
    record = await update_workflow(sessions, workspace_of(request), workflow_id, definition, stored)
    return web.json_response(
        {**views.workflow(record, registry, warnings=warnings), "changed": True}
    )
