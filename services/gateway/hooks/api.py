"""Standard Webhooks into workflows.

`POST /api/v1/hooks/{workflow_id}` (public, signed): starts the workflow with the JSON body,
once per `webhook-id`. `/api/v1/workflows/{workflow_id}/hook-secret` (API key): create or
rotate the secret (shown once), see when it was made, or delete it.
"""

import json
from typing import Any

from aiohttp import web

from services.gateway.common.bodies import path_id, refuse_unkeepable
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
