"""Standard Webhooks into workflows.

`POST /api/v1/hooks/{workflow_id}` (public, signed): starts the workflow with the JSON body,
once per `webhook-id`. `/api/v1/workflows/{workflow_id}/hook-secret` (API key): create or
rotate the secret (shown once), see when it was made, or delete it.
"""

import json
from typing import Any

from aiohttp import web

from services.gateway.common.bodies import path_id, refuse_unkeepable
from services.gateway.common.openapi_schemas import UUID, Schema
from services.gateway.common.problems import CONTENT_TYPE as PROBLEM_TYPE
from services.gateway.common.problems import Problem
from services.gateway.hooks.secrets import SecretInfo, create_or_rotate, read_info, remove
from services.gateway.hooks.secrets import valid_secrets as secrets_for
from services.gateway.hooks.trigger_runs import execution_for_key, queue_run, workflow_trigger
from services.gateway.keys import RESOURCES, TASKS, workspace_of
from shared.connections.crypto import Sealer, SecretKeyMissing
from shared.inbox import record_event
from shared.outbox import publish_staged
from shared.standard_webhooks import SignatureRefused, verify

HOOK = "/api/v1/hooks/{workflow_id}"
SECRET = "/api/v1/workflows/{workflow_id}/hook-secret"
_CHALLENGE = {"WWW-Authenticate": 'Standard-Webhooks realm="docflow"'}


def _sealer(request: web.Request) -> Sealer:
    try:
        return Sealer(request.app[RESOURCES].settings.secret_key)
    except SecretKeyMissing as e:
        raise Problem(503, "not-configured", str(e)) from e


def _hook_url(request: web.Request, workflow_id: object) -> str:
    base = request.app[RESOURCES].settings.public_url.rstrip("/")
    return base + HOOK.format(workflow_id=workflow_id)


def _view(request: web.Request, info: SecretInfo) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "workflow_id": str(info.workflow_id),
        "url": _hook_url(request, info.workflow_id),
        "created_at": stamp(info.created_at),
        "rotated_at": stamp(info.rotated_at),
        "previous_valid_until": stamp(info.previous_valid_until),
    }


async def receive(request: web.Request) -> web.Response:
    resources = request.app[RESOURCES]
    workflow_id = path_id(request, "workflow_id", "hook")
    body = await request.read()
    sealer = _sealer(request)
    async with resources.sessions.begin() as session:
        candidates = await secrets_for(session, sealer, workflow_id)
        workflow = await workflow_trigger(session, workflow_id)
        if candidates is None or workflow is None:
            raise Problem(404, "not-found", f"no hook for workflow {workflow_id}")
        try:
            hook = verify(candidates, body, request.headers)
        except SignatureRefused as e:
            raise Problem(401, "unauthorized", str(e), headers=_CHALLENGE) from e
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as e:
            raise Problem(400, "malformed-json", f"the body is not JSON: {e}") from e
        refuse_unkeepable(payload)
        if workflow.trigger.source != "webhook":
            raise Problem(
                409,
                "conflict",
                f"workflow {workflow_id} starts on {workflow.trigger.source!r}, not on webhooks; "
                "set its trigger's source to 'webhook'",
            )
        key = f"webhook:{hook.id}"
        meta = {"id": hook.id, "timestamp": hook.timestamp}
        inserted = await record_event(
            session,
            provider="webhook",
            event_key=f"{workflow_id}:{hook.id}",
            payload=meta,
            workspace_id=workflow.workspace_id,
        )
        if inserted is None:
            earlier = await execution_for_key(session, workflow_id, key)
            return web.json_response(
                {"execution_id": str(earlier) if earlier else None, "duplicate": True}
            )
        execution_id, staged = await queue_run(
            session,
            workflow,
            {"payload": payload, "webhook": meta},
            idempotency_key=key,
            reason=f"Standard Webhooks call {hook.id}",
        )
    request.app[TASKS].spawn(
        publish_staged(resources.sessions, resources.broker, [staged]), name="publish-hook"
    )
    return web.json_response(
        {"execution_id": str(execution_id), "status": "queued", "duplicate": False}, status=202
    )


async def create_secret(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    sealer = _sealer(request)
    async with request.app[RESOURCES].sessions.begin() as session:
        secret, info = await create_or_rotate(session, sealer, workspace_of(request), workflow_id)
    return web.json_response({**_view(request, info), "secret": secret}, status=201)


async def read_secret(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    async with request.app[RESOURCES].sessions() as session:
        info = await read_info(session, workspace_of(request), workflow_id)
    return web.json_response(_view(request, info))


async def delete_secret(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    async with request.app[RESOURCES].sessions.begin() as session:
        await remove(session, workspace_of(request), workflow_id)
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(HOOK, receive)
    router.add_post(SECRET, create_secret)
    router.add_get(SECRET, read_secret)
    router.add_delete(SECRET, delete_secret)


def openapi_paths() -> dict[str, Any]:
    def problem(description: str) -> Schema:
        return {
            "description": description,
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }

    def header(name: str, description: str) -> Schema:
        return {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": description,
        }

    workflow_id = {"name": "workflow_id", "in": "path", "required": True, "schema": UUID}
    secret_view = {
        "type": "object",
        "properties": {
            "workflow_id": UUID,
            "url": {"type": "string"},
            "secret": {"type": "string"},
            "created_at": {"type": "string"},
            "rotated_at": {"type": ["string", "null"]},
            "previous_valid_until": {"type": ["string", "null"]},
        },
    }
    started = {
        "type": "object",
        "properties": {
            "execution_id": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "duplicate": {"type": "boolean"},
        },
    }

    def answer(description: str, schema: Schema) -> Schema:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    auth = {"401": problem("Missing or invalid API key"), "404": problem("No such workflow")}
    return {
        HOOK: {
            "post": {
                "operationId": "receiveHook",
                "summary": "Start the workflow with this JSON body (Standard Webhooks signed)",
                "security": [],
                "parameters": [
                    workflow_id,
                    header("webhook-id", "Unique per message; repeats start nothing"),
                    header("webhook-timestamp", "Seconds; within 5 minutes of now"),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256>`, space-separated"),
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                "responses": {
                    "202": answer("Queued", started),
                    "200": answer("A repeated webhook-id: the first run", started),
                    "400": problem("Not JSON"),
                    "401": problem("Missing, stale or forged signature"),
                    "404": problem("The workflow has no hook"),
                    "409": problem("The workflow's trigger source is not 'webhook'"),
                    "503": problem("DOCFLOW_SECRET_KEY not set"),
                },
            }
        },
        SECRET: {
            "post": {
                "operationId": "createHookSecret",
                "summary": "Create or rotate the hook secret (`whsec_…`, shown once); "
                "the previous one stays valid for 24 hours",
                "parameters": [workflow_id],
                "responses": {
                    "201": answer("The new secret", secret_view),
                    **auth,
                    "503": problem("DOCFLOW_SECRET_KEY not set"),
                },
            },
            "get": {
                "operationId": "getHookSecret",
                "summary": "The hook's URL and dates, no value",
                "parameters": [workflow_id],
                "responses": {"200": answer("The hook", secret_view), **auth},
            },
            "delete": {
                "operationId": "deleteHookSecret",
                "summary": "Close the hook",
                "parameters": [workflow_id],
                "responses": {"204": {"description": "Deleted"}, **auth},
            },
        },
    }
