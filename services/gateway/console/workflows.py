"""Console pages of workflows: the list, a version's definition, what changed between two
versions, and the Run form (its refusals shown inline as the API's problem document)."""

import difflib
import json
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import select

from services.gateway.common.bodies import path_id
from services.gateway.common.problems import Problem, from_exception, invalid
from services.gateway.console.guard import PREFIX
from services.gateway.console.render import page, see_other
from services.gateway.executions.api import publish_later
from services.gateway.executions.run_requests import queue_execution
from services.gateway.keys import REGISTRY, RESOURCES, RUNS, workspace_of
from services.gateway.workflows.store import get_workflow, list_workflows
from shared.db.tables import WorkflowVersion
from shared.errors import DocflowError
from shared.workflows import validate_definition


async def list_page(request: web.Request) -> web.Response:
    workflows = await list_workflows(request.app[RESOURCES].sessions, workspace_of(request))
    return page(request, "workflows.html.j2", workflows=workflows)


async def show(request: web.Request) -> web.Response:
    """The current version, or `/versions/{version}`; with the Run form on the current one."""
    # The route admits digits only.
    raw_version = request.match_info.get("version")
    version = int(raw_version) if raw_version else None
    return await _workflow_page(request, version)


async def _workflow_page(
    request: web.Request,
    version: int | None,
    *,
    status: int = 200,
    trigger_data: str = "{}",
    problem: dict[str, Any] | None = None,
) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    sessions = request.app[RESOURCES].sessions
    workspace_id = workspace_of(request)
    record = await get_workflow(sessions, workspace_id, workflow_id, version)
    current = await get_workflow(sessions, workspace_id, workflow_id)
    return page(
        request,
        "workflow.html.j2",
        status=status,
        workflow=record,
        current_version=current.version,
        versions=await _versions(request, workflow_id),
        definition=_pretty(record.definition),
        trigger_data=trigger_data,
        problem=problem,
        problem_json=_pretty(problem) if problem else "",
    )


async def _versions(request: web.Request, workflow_id: uuid.UUID) -> list[tuple[int, Any]]:
    """Only called once the workflow is known to be the workspace's."""
    async with request.app[RESOURCES].sessions() as session:
        rows = await session.execute(
            select(WorkflowVersion.version, WorkflowVersion.created_at)
            .where(WorkflowVersion.workflow_id == workflow_id)
            .order_by(WorkflowVersion.version.desc())
        )
        return [(r.version, r.created_at) for r in rows]


async def diff(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    sessions = request.app[RESOURCES].sessions
    workspace_id = workspace_of(request)
    current = await get_workflow(sessions, workspace_id, workflow_id)
    old_version = _int(request.query.get("from"), max(current.version - 1, 1))
    new_version = _int(request.query.get("to"), current.version)
    old = await get_workflow(sessions, workspace_id, workflow_id, old_version)
    new = await get_workflow(sessions, workspace_id, workflow_id, new_version)
    lines = list(
        difflib.unified_diff(
            _pretty(old.definition).splitlines(),
            _pretty(new.definition).splitlines(),
            f"version {old.version}",
            f"version {new.version}",
            lineterm="",
        )
    )
    return page(
        request,
        "workflow_diff.html.j2",
        workflow=current,
        old=old,
        new=new,
        versions=await _versions(request, workflow_id),
        nodes=node_changes(old.definition, new.definition),
        lines=lines,
    )


def node_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    """(node id, added | removed | changed) in the newer version's order, removed ones last."""
    before = {n.get("id"): n for n in old.get("nodes", [])}
    after = {n.get("id"): n for n in new.get("nodes", [])}
    changes = []
    for node_id, node in after.items():
        if node_id not in before:
            changes.append((str(node_id), "added"))
        elif before[node_id] != node:
            changes.append((str(node_id), "changed"))
    changes += [(str(i), "removed") for i in before if i not in after]
    return changes


def _int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


async def run(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflow_id", "workflow")
    form = await request.post()
    raw = str(form.get("trigger_data", "")).strip() or "{}"
    try:
        execution_id = await _queue(request, workflow_id, raw)
    except (Problem, DocflowError) as e:
        problem = from_exception(e)
        if problem is None or problem.status == 404:
            raise
        return await _workflow_page(
            request, None, status=problem.status, trigger_data=raw, problem=_view(problem)
        )
    return see_other(f"{PREFIX}/executions/{execution_id}?done=run")


async def _queue(request: web.Request, workflow_id: uuid.UUID, raw: str) -> uuid.UUID:
    try:
        trigger_data = json.loads(raw)
    except ValueError as e:
        raise Problem(400, "malformed-json", f"trigger data is not JSON: {e}") from e
    if not isinstance(trigger_data, dict):
        raise invalid("trigger_data", "must be a JSON object")
    sessions = request.app[RESOURCES].sessions
    current = await get_workflow(sessions, workspace_of(request), workflow_id)
    # A definition saved before a node's config was tightened is refused here, with the
    # field at fault, rather than failing on a worker.
    validate_definition(current.definition, request.app[REGISTRY])
    queued = await queue_execution(
        request.app[RUNS], workspace_of(request), workflow_id, trigger_data, None
    )
    if queued.staged is not None:
        publish_later(request, queued.staged)
    return queued.execution_id


def _view(problem: Problem) -> dict[str, Any]:
    """The problem document the API would answer (problems.render's fields)."""
    body: dict[str, Any] = {
        "type": f"urn:docflow:problem:{problem.slug}",
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return body


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
