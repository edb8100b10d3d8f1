"""Handlers for executions: queue a run, read, list, and request cancel or retry.

Each write commits its outbox row first and answers at once; publishing happens in a tracked
background task, so a slow or unreachable broker never holds a response (the scheduler relays
whatever that task could not publish).
"""

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.gateway.common.bodies import json_object, path_id, query_int, query_uuid
from services.gateway.common.paging import decode_cursor
from services.gateway.common.problems import Problem, invalid
from services.gateway.executions import views
from services.gateway.executions.run_requests import IdempotencyKeyReused, queue_execution
from services.gateway.executions.store import (
    RequestRefused,
    get_execution,
    list_executions,
    request_cancel,
    request_retry,
)
from services.gateway.keys import OUTBOX, RESOURCES, RUNS, TASKS, workspace_of
from shared.outbox import Staged
from shared.status import ExecutionStatus

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: The width of `executions.idempotency_key`.
MAX_IDEMPOTENCY_KEY = 200
DEFAULT_PAGE = 50
MAX_PAGE = 200


def publish_later(request: web.Request, staged: Staged) -> None:
    request.app[TASKS].spawn(
        request.app[OUTBOX].publish([staged]), name=f"publish-{type(staged.message).__name__}"
    )


def _location(request: web.Request, execution_id: object) -> str:
    return str(request.app.router["execution"].url_for(execution_id=str(execution_id)))


async def start(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    key = _idempotency_key(request)
    body = await json_object(request, required=False)
    trigger_data = body.get("trigger_data", {})
    if not isinstance(trigger_data, dict):
        raise invalid("trigger_data", "must be a JSON object")
    unknown = sorted(set(body) - {"trigger_data"})
    if unknown:
        raise invalid(unknown[0], "is not a known field")
    try:
        queued = await queue_execution(
            request.app[RUNS], workspace_of(request), workflow_id, trigger_data, key
        )
    except IdempotencyKeyReused as e:
        raise Problem(
            422,
            "idempotency-key-reused",
            str(e),
            errors=[{"field": IDEMPOTENCY_HEADER, "message": "was used with another body"}],
        ) from e
    if queued.staged is not None:
        publish_later(request, queued.staged)
    return web.json_response(
        {
            "execution_id": str(queued.execution_id),
            "status": queued.status,
            "workflow_id": str(queued.workflow_id),
            "workflow_version": queued.workflow_version,
        },
        status=202,
        headers={"Location": _location(request, queued.execution_id)},
    )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise invalid(IDEMPOTENCY_HEADER, f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return key


async def read(request: web.Request) -> web.Response:
    execution_id = path_id(request, "execution_id", "execution")
    detail = await get_execution(
        request.app[RESOURCES].sessions, workspace_of(request), execution_id
    )
    settings = request.app[RESOURCES].settings
    return web.json_response(
        views.execution_detail(detail, settings.public_url, settings.secret_key)
    )


async def list_page(request: web.Request) -> web.Response:
    status = _status_filter(request.query.get("status"))
    workflow_id = query_uuid(request, "workflow_id")
    limit = query_int(request, "limit", default=DEFAULT_PAGE, minimum=1, maximum=MAX_PAGE)
    assert limit is not None
    cursor_token = request.query.get("cursor")
    after = decode_cursor(cursor_token) if cursor_token is not None else None
    rows, next_cursor = await list_executions(
        request.app[RESOURCES].sessions,
        workspace_of(request),
        status=status,
        workflow_id=workflow_id,
        limit=limit,
        after=after,
    )
    return web.json_response(
        {
            "items": [views.execution_summary(row) for row in rows],
            "next_cursor": next_cursor.encode() if next_cursor else None,
        }
    )


def _status_filter(raw: str | None) -> ExecutionStatus | None:
    if raw is None:
        return None
    try:
        return ExecutionStatus(raw)
    except ValueError:
        known = ", ".join(s.value for s in ExecutionStatus)
        raise invalid("status", f"must be one of {known}") from None


async def cancel(request: web.Request) -> web.Response:
    return await _request_change(
        request, request_cancel, "cancel_requested", "is already {status}; it cannot be cancelled"
    )


async def retry(request: web.Request) -> web.Response:
    return await _request_change(
        request,
        request_retry,
        "retry_requested",
        "is {status}; only a failed execution can be retried",
    )


async def _request_change(
    request: web.Request,
    change: Callable[..., Awaitable[tuple[ExecutionStatus, Staged]]],
    flag: str,
    refusal: str,
) -> web.Response:
    """Cancel or retry: record the request with its message, answer 202, publish after."""
    execution_id = path_id(request, "execution_id", "execution")
    try:
        status, staged = await change(
            request.app[RESOURCES].sessions, workspace_of(request), execution_id
        )
    except RequestRefused as e:
        detail = f"execution {execution_id} " + refusal.format(status=e.status)
        raise Problem(409, "conflict", detail) from e
    publish_later(request, staged)
    return web.json_response(
        {"execution_id": str(execution_id), "status": status.value, flag: True},
        status=202,
        headers={"Location": _location(request, execution_id)},
    )
