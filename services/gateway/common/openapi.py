"""The OpenAPI 3.1 document, written by hand; request schemas come from the pydantic models.

A test holds this document and the router to the same set of (path, method) in both directions,
so a route cannot be added without being described here.
"""

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.gateway.api_keys import api as api_keys
from services.gateway.approvals import routes as approvals
from services.gateway.common.openapi_schemas import (
    REF,
    STATUS,
    STRING,
    UUID,
    Schema,
    ref,
    response_schemas,
)
from services.gateway.common.problems import CONTENT_TYPE as PROBLEM_TYPE
from services.gateway.connections import api as connections
from services.gateway.documents import api as documents
from services.gateway.documents import templates
from services.gateway.executions import streams_openapi, wait_event_api
from services.gateway.executions.api import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY, MAX_PAGE
from services.gateway.hooks import api as hooks
from services.gateway.hooks import hubspot as hubspot_webhooks
from services.gateway.keys import OPENAPI
from services.gateway.signatures import requests as signature_requests
from services.gateway.signatures import webhooks as signature_webhooks
from shared.nodes.registry import ConfigRegistry
from shared.workflows import WorkflowDefinition


def _json(name: str, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref(name)}}}


def _problem(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": ref("Problem")}}}


_AUTH_ERRORS = {"401": _problem("Missing or invalid API key")}
_BODY_ERRORS = {
    "400": _problem("Malformed JSON"),
    "413": _problem("Body larger than the configured limit"),
    "422": _problem("Invalid body; `field` names what is wrong"),
}


def _path_id(name: str, what: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": UUID, "description": what}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _body(name: str, *, required: bool = True) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": ref(name)}}}


def _operations() -> dict[str, dict[str, Schema]]:
    workflow_id = _path_id("workflow_id", "Workflow id")
    execution_id = _path_id("execution_id", "Execution id")
    not_found = {"404": _problem("No such object in this workspace")}
    conflict = {"409": _problem("The execution's status does not allow this")}
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "The process is alive",
                "security": [],
                "responses": {"200": _json("Health", "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "The database and the broker answer",
                "security": [],
                "responses": {
                    "200": _json("Readiness", "Ready"),
                    "503": _json("Readiness", "A dependency failed; `checks` says which"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "security": [],
                "responses": {
                    "200": {"description": "Text exposition", "content": {"text/plain": {}}}
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
                },
            }
        },
        "/api/v1/workflows": {
            "get": {
                "operationId": "listWorkflows",
                "summary": "The workspace's workflows, newest first",
                "responses": {"200": _json("WorkflowList", "Workflows"), **_AUTH_ERRORS},
            },
            "post": {
                "operationId": "createWorkflow",
                "summary": "Save a new workflow as version 1",
                "requestBody": _body("WorkflowDefinition"),
                "responses": {
                    "201": _json("Workflow", "Created; Location names it"),
                    **_AUTH_ERRORS,
                    **_BODY_ERRORS,
                },
            },
        },
        "/api/v1/workflows/{workflow_id}": {
            "get": {
                "operationId": "getWorkflow",
                "summary": "The current version, or the one asked for",
                "parameters": [
                    workflow_id,
                    _query("version", {"type": "integer", "minimum": 1}, "An older version"),
                ],
                "responses": {
                    "200": _json("Workflow", "The workflow"),
                    **_AUTH_ERRORS,
                    **not_found,
                    "422": _problem("Bad query parameter"),
                },
            },
            "put": {
                "operationId": "updateWorkflow",
                "summary": "Save a new version; running executions keep theirs",
                "parameters": [workflow_id],
                "requestBody": _body("WorkflowDefinition"),
                "responses": {
                    "200": _json("Workflow", "The new version"),
                    **_AUTH_ERRORS,
                    **not_found,
                    **_BODY_ERRORS,
                },
            },
        },
        "/api/v1/workflows/{workflow_id}/executions": {
            "post": {
                "operationId": "startExecution",
                "summary": "Queue a run of the current version; answers before any node runs",
                "parameters": [
                    workflow_id,
                    {
                        "name": IDEMPOTENCY_HEADER,
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                        "description": "The same key for the same workflow returns the same run",
                    },
                ],
                "requestBody": _body("RunRequest", required=False),
                "responses": {
                    "202": _json("ExecutionAccepted", "Queued; Location names the execution"),
                    **_AUTH_ERRORS,
                    **not_found,
                    **_BODY_ERRORS,
                },
            }
        },
        "/api/v1/executions": {
            "get": {
                "operationId": "listExecutions",
                "summary": "Executions, newest first, in pages",
                "parameters": [
                    _query("status", STATUS, "Only this status"),
                    _query("workflow_id", UUID, "Only this workflow's"),
                    _query(
                        "limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page size"
                    ),
                    _query("cursor", STRING, "`next_cursor` of the previous page"),
                ],
                "responses": {
                    "200": _json("ExecutionPage", "A page"),
                    **_AUTH_ERRORS,
                    "422": _problem("Bad query parameter; `field` names it"),
                },
            }
        },
        "/api/v1/executions/{execution_id}": {
            "get": {
                "operationId": "getExecution",
                "summary": "An execution with its steps and waits",
                "parameters": [execution_id],
                "responses": {
                    "200": _json("Execution", "The execution"),
                    **_AUTH_ERRORS,
                    **not_found,
                },
            }
        },
        "/api/v1/executions/{execution_id}/cancel": {
            "post": {
                "operationId": "cancelExecution",
                "summary": "Ask the executor to cancel; refused once final",
                "parameters": [execution_id],
                "responses": {
                    "202": _json("CancelAccepted", "Cancel requested"),
                    **_AUTH_ERRORS,
                    **not_found,
                    **conflict,
                },
            }
        },
        "/api/v1/executions/{execution_id}/retry": {
            "post": {
                "operationId": "retryExecution",
                "summary": "Ask the executor to continue a failed execution from the failed node",
                "parameters": [execution_id],
                "responses": {
                    "202": _json("RetryAccepted", "Retry requested"),
                    **_AUTH_ERRORS,
                    **not_found,
                    **conflict,
                },
            }
        },
    }


def build_document(registry: ConfigRegistry) -> dict[str, Any]:
    """Node config schemas are listed too, so clients can see what each `type` accepts."""
    models: list[type[BaseModel]] = [WorkflowDefinition, *registry.values()]
    _, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    node_types = ", ".join(f"`{name}` ({model.__name__})" for name, model in registry.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DocFlow API",
            "version": "1",
            "description": (
                "Durable document workflows. Errors are RFC 9457 problem documents. "
                f"Node types: {node_types}."
            ),
        },
        "security": [{"apiKey": []}],
        "paths": {
            **_operations(),
            **signature_webhooks.openapi_paths(),
            **signature_requests.openapi_paths(),
            **connections.openapi_paths(),
            **api_keys.openapi_paths(),
            **templates.openapi_paths(),
            **documents.openapi_paths(),
            **hubspot_webhooks.openapi_paths(),
            **hooks.openapi_paths(),
            **approvals.openapi_paths(),
            **streams_openapi.openapi_paths(),
            **wait_event_api.openapi_paths(),
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A DocFlow API key"}
            },
            "schemas": {
                **definitions["$defs"],
                **response_schemas(),
                **signature_requests.openapi_schemas(),
                **connections.openapi_schemas(),
                **api_keys.openapi_schemas(),
                **templates.openapi_schemas(),
                **documents.openapi_schemas(),
                **approvals.openapi_schemas(),
                **streams_openapi.openapi_schemas(),
                **wait_event_api.openapi_schemas(),
            },
        },
    }


async def serve(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
