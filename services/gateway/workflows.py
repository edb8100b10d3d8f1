"""Handlers for /api/v1/workflows: validate, call the store, shape the answer."""

from aiohttp import web

from services.gateway import views
from services.gateway.bodies import json_object, path_id, query_int
from services.gateway.keys import REGISTRY, RESOURCES, workspace_of
from services.gateway.signature_connections import check_signature_connections
from services.gateway.workflow_store import (
    create_workflow,
    get_workflow,
    list_workflows,
    update_workflow,
)
from shared.workflows import definition_warnings, validate_definition

#: Above any version a workflow will reach; bounds the integer before it reaches SQL.
MAX_VERSION = 2**31 - 1


async def create(request: web.Request) -> web.Response:
    definition = validate_definition(await json_object(request), request.app[REGISTRY])
    await check_signature_connections(
        request.app[RESOURCES].sessions, workspace_of(request), definition
    )
    record = await create_workflow(
        request.app[RESOURCES].sessions, workspace_of(request), definition
    )
    location = str(request.app.router["workflow"].url_for(workflow_id=str(record.id)))
    body = views.workflow(record, warnings=definition_warnings(definition))
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
    return web.json_response(views.workflow(record))


async def replace(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    definition = validate_definition(await json_object(request), request.app[REGISTRY])
    await check_signature_connections(
        request.app[RESOURCES].sessions, workspace_of(request), definition
    )
    record = await update_workflow(
        request.app[RESOURCES].sessions, workspace_of(request), workflow_id, definition
    )
    return web.json_response(views.workflow(record, warnings=definition_warnings(definition)))
