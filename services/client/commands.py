"""The client sub-commands. Each returns the process exit code and prints for people."""

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from services.client.api import Api, ApiError
from services.client.watch import Print, watch
from services.client.whom import waiting_in


def load_document(path: str) -> Any:
    """A YAML or JSON file (JSON is YAML), refused in one line when unreadable."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ApiError(f"cannot read {path}: {e.strerror}") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ApiError(f"{path} is neither YAML nor JSON: {' '.join(str(e).split())}") from e


async def apply_workflow(api: Api, path: str, say: Print) -> int:
    definition = load_document(path)
    if not isinstance(definition, dict) or not isinstance(definition.get("name"), str):
        raise ApiError(f"{path} must hold a workflow object with a name")
    existing = [w for w in await _workflows(api) if w["name"] == definition["name"]]
    if len(existing) > 1:
        raise ApiError(f"several workflows are named {definition['name']!r}; apply by id")
    if existing:
        saved = await api.request("PUT", f"/workflows/{existing[0]['id']}", body=definition)
        verb = "updated" if saved.get("changed", True) else "unchanged"
    else:
        saved = await api.request("POST", "/workflows", body=definition)
        verb = "created"
    if verb == "unchanged":
        say(
            f"workflow {saved['name']!r} unchanged: id {saved['id']}, still version "
            f"{saved['version']}; nothing saved"
        )
    else:
        say(f"workflow {saved['name']!r} {verb}: id {saved['id']}, version {saved['version']}")
    for warning in saved.get("warnings", []):
        say(f"warning: {warning['field']}: {warning['message']}")
    return 0


async def list_workflows(api: Api, say: Print) -> int:
    rows = [[w["id"], w["name"], str(w["version"]), w["updated_at"]] for w in await _workflows(api)]
    say(table(["WORKFLOW", "NAME", "VERSION", "UPDATED"], rows))
    return 0


async def run_workflow(
    api: Api, workflow: str, data_path: str | None, follow: bool, say: Print
) -> int:
    workflow_id = await resolve_workflow(api, workflow)
    trigger_data = load_document(data_path) if data_path else {}
    if not isinstance(trigger_data, dict):
        raise ApiError(f"{data_path} must hold an object (the run's trigger_data)")
    accepted = await api.request(
        "POST", f"/workflows/{workflow_id}/executions", body={"trigger_data": trigger_data}
    )
    execution_id = accepted["execution_id"]
    say(f"execution {execution_id} {accepted['status']}")
    if not follow:
        return 0
    return await watch(api, execution_id, say)


async def resolve_workflow(api: Api, workflow: str) -> str:
    """A workflow id as given, or the id of the one workflow with that name."""
    try:
        return str(uuid.UUID(workflow))
    except ValueError:
        pass
    named = [w for w in await _workflows(api) if w["name"] == workflow]
    if len(named) != 1:
        found = "no workflow" if not named else "several workflows"
        raise ApiError(f"{found} named {workflow!r}; give the workflow's id")
    return str(named[0]["id"])


async def _workflows(api: Api) -> list[dict[str, Any]]:
    listed = await api.request("GET", "/workflows")
    items: list[dict[str, Any]] = listed["items"]
    return items


async def list_executions(
    api: Api, status: str | None, workflow: str | None, limit: int, say: Print
) -> int:
    params = {"limit": str(limit)}
    if status:
        params["status"] = status
    if workflow:
        params["workflow_id"] = await resolve_workflow(api, workflow)
    page = await api.request("GET", "/executions", params=params)
    rows = [
        [e["id"], e["status"], e.get("current_node_id") or "-", e["created_at"]]
        for e in page["items"]
    ]
    say(table(["EXECUTION", "STATUS", "NODE", "CREATED"], rows))
    return 0


async def show_execution(api: Api, execution_id: str, say: Print) -> int:
    e = await api.request("GET", f"/executions/{execution_id}")
    say(f"execution {e['id']}  {e['status']}")
    say(f"workflow  {e['workflow_id']} (version {e['workflow_version']})")
    say(f"created   {e['created_at']}   finished {e.get('finished_at') or '-'}")
    if e.get("error"):
        say(f"error     {e['error']}")
    waited = {w["node_id"] for w in e.get("waits", [])}
    steps = [
        [s["node_id"], s["node_type"], str(s["attempt"]), s["status"], _took(s, waited),
         s.get("error") or ""]
        for s in e.get("steps", [])
    ]  # fmt: skip
    say(table(["NODE", "TYPE", "ATTEMPT", "STATUS", "DURATION", "ERROR"], steps))
    for wait in e.get("waits", []):
        if wait["status"] == "open":
            say(f"waiting   {wait['node_id']} on {waiting_in(e, wait)}")
            if wait.get("resume_url"):
                say(f"resume    POST {wait['resume_url']}")
    return 0


def _took(step: dict[str, Any], waited: set[str]) -> str:
    """A node that waited took as long as its wait, not the moment its resume ran."""
    if step["status"] == "waiting":
        return "waiting"
    if step["node_id"] in waited and step.get("started_at") and step.get("completed_at"):
        took = datetime.fromisoformat(step["completed_at"]) - datetime.fromisoformat(
            step["started_at"]
        )
        return f"waited {_seconds(took.total_seconds())}"
    return _ms(step["duration_ms"])


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


async def send_event(
    api: Api, execution_id: str, name: str, data: str | None, key: str | None, say: Print
) -> int:
    payload = load_document(data) if data else None
    headers = {"Idempotency-Key": key} if key else None
    answer = await api.request(
        "POST", f"/executions/{execution_id}/events/{name}", body=payload, headers=headers
    )
    repeat = " (a repeat: the first delivery's answer)" if answer.get("repeat") else ""
    say(f"event {answer['event_id']} {answer['status']}{repeat}")
    return 0


async def list_approvals(api: Api, say: Print) -> int:
    listed = await api.request("GET", "/approvals", params={"status": "pending"})
    rows = [
        [
            a.get("execution_id", ""),
            a.get("node_id", ""),
            a.get("email", ""),
            a.get("since") or a.get("created_at") or "",
            a.get("expires_at") or "-",
        ]
        for a in listed.get("items", [])
    ]
    say(table(["EXECUTION", "NODE", "APPROVER", "SINCE", "EXPIRES"], rows))
    return 0


def table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    return "\n".join(lines)


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"
