"""Console pages of executions: the list, one execution with its timeline, and the Retry and
Cancel requests (the same store functions the API's handlers call)."""

import json
from typing import Any

from aiohttp import web
from sqlalchemy import select

from services.gateway.common.bodies import path_id
from services.gateway.console import listing, timeline
from services.gateway.console.guard import PREFIX
from services.gateway.console.render import SECURITY_HEADERS, page, see_other
from services.gateway.documents import api as documents
from services.gateway.executions.api import publish_later
from services.gateway.executions.store import (
    RequestRefused,
    get_execution,
    request_cancel,
    request_retry,
)
from services.gateway.keys import RESOURCES, workspace_of
from shared.context import whole
from shared.db.tables import Workflow
from shared.db.types import utcnow
from shared.documents.store import documents_of_execution
from shared.status import FINAL_STATUSES, ExecutionStatus

#: What each request is called on the page, and how its store function is reached.
_CHANGES = {
    "retry": ("Retry", request_retry, "retried"),
    "cancel": ("Cancel", request_cancel, "cancelled"),
}


async def home(request: web.Request) -> web.Response:
    return see_other(f"{PREFIX}/executions")


async def list_page(request: web.Request) -> web.Response:
    return await _list(request, "executions.html.j2")


async def list_rows(request: web.Request) -> web.Response:
    """The table's rows alone: console.js fetches them every few seconds."""
    return await _list(request, "executions_rows.html.j2")


async def _list(request: web.Request, template: str) -> web.Response:
    sessions = request.app[RESOURCES].sessions
    filters = listing.filters_of(request)
    rows, next_cursor = await listing.page_of(sessions, workspace_of(request), filters)
    workflows = await listing.workflow_names(sessions, workspace_of(request))
    return page(
        request,
        template,
        rows=rows,
        filters=filters.raw,
        statuses=[s.value for s in ExecutionStatus],
        workflows=workflows,
        next_cursor=next_cursor.encode() if next_cursor else None,
        paged=filters.after is not None,
        request_query=request.query_string,
    )


async def show(request: web.Request) -> web.Response:
    return page(request, "execution.html.j2", **await _detail(request))


async def live(request: web.Request) -> web.Response:
    """The part of the execution page that changes; console.js swaps it in on each event."""
    return page(request, "execution_live.html.j2", **await _detail(request))


async def _detail(request: web.Request) -> dict[str, Any]:
    execution_id = path_id(request, "execution_id", "execution")
    resources = request.app[RESOURCES]
    detail = await get_execution(resources.sessions, workspace_of(request), execution_id)
    async with resources.sessions() as session:
        documents = await documents_of_execution(session, workspace_of(request), execution_id)
        workflow_name = await session.scalar(
            select(Workflow.name).where(Workflow.id == detail.execution.workflow_id)
        )
    execution = detail.execution
    context = whole(execution.context, detail.outputs)
    outputs = context.get("node_outputs", {})
    status = ExecutionStatus(execution.status)
    return {
        "execution": execution,
        "workflow_name": workflow_name or "",
        "final": status in FINAL_STATUSES,
        "can_retry": status is ExecutionStatus.FAILED,
        "timeline": timeline.build(
            execution, detail.steps, detail.waits, detail.approvals, utcnow()
        ),
        "outputs": {node: _pretty(value) for node, value in outputs.items()},
        # The context holds a node's output once: that of its last attempt.
        "last_attempt": {step.node_id: step.id for step in detail.steps},
        "context": _pretty(context),
        "trigger_data": _pretty(execution.trigger_data),
        "approvals": detail.approvals,
        "open_waits": [
            (w, timeline.waits_on(w, detail.approvals)) for w in detail.waits if w.status == "open"
        ],
        "signature_requests": detail.signature_requests,
        "documents": documents,
    }


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


async def confirm(request: web.Request) -> web.Response:
    """Retry and Cancel ask first, on a page of their own (no script needed)."""
    what = request.match_info["change"]
    execution_id = path_id(request, "execution_id", "execution")
    detail = await get_execution(
        request.app[RESOURCES].sessions, workspace_of(request), execution_id
    )
    return page(
        request,
        "confirm.html.j2",
        change=what,
        label=_CHANGES[what][0],
        execution=detail.execution,
        refused="",
    )


async def change(request: web.Request) -> web.Response:
    what = request.match_info["change"]
    label, move, past = _CHANGES[what]
    execution_id = path_id(request, "execution_id", "execution")
    sessions = request.app[RESOURCES].sessions
    try:
        _, staged = await move(sessions, workspace_of(request), execution_id)
    except RequestRefused as e:
        detail = await get_execution(sessions, workspace_of(request), execution_id)
        return page(
            request,
            "confirm.html.j2",
            status=409,
            change=what,
            label=label,
            execution=detail.execution,
            refused=f"The run is {e.status}: it cannot be {past}.",
        )
    publish_later(request, staged)
    return see_other(f"{PREFIX}/executions/{execution_id}?done={what}")


async def download(request: web.Request) -> web.Response:
    """The API's document download, under the console's headers: whatever the file's type, a
    browser saves it (Content-Disposition: attachment) and runs nothing in it (the CSP)."""
    response = await documents.content(request)
    response.headers.update(SECURITY_HEADERS)
    return response
