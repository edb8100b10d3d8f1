"""JSON shapes of executions and what they hold. Datetimes are ISO-8601 in UTC."""

import uuid
from typing import Any

from services.gateway.common.iso import iso
from services.gateway.executions.store import ExecutionDetail
from shared.context import whole
from shared.db.tables import Approval, Execution, ExecutionStep, Wait, WaitEvent
from shared.resume_urls import resume_url


def execution_summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": str(execution.id),
        "workflow_id": str(execution.workflow_id),
        "workflow_version": execution.workflow_version,
        "status": execution.status,
        "current_node_id": execution.current_node_id,
        "error": execution.error,
        "created_at": iso(execution.created_at),
        "started_at": iso(execution.started_at),
        "finished_at": iso(execution.finished_at),
        "execution_time_ms": execution.execution_time_ms,
    }


def execution_detail(
    detail: ExecutionDetail, public_url: str = "", secret_key: str = ""
) -> dict[str, Any]:
    """`public_url` and `secret_key` give event waits their resume URL, computed here: it is
    never stored."""
    execution = detail.execution
    return {
        **execution_summary(execution),
        "context": whole(execution.context, detail.outputs),
        "trigger_data": execution.trigger_data,
        "steps": [step(s) for s in detail.steps],
        "waits": [
            _with_resume_url(wait(w), execution.id, public_url, secret_key) for w in detail.waits
        ],
        "approvals": [approval(a) for a in detail.approvals],
        "signature_requests": list(detail.signature_requests),
        "events": [wait_event(e) for e in detail.events],
    }


def _with_resume_url(
    view: dict[str, Any], execution_id: uuid.UUID, public_url: str, secret_key: str
) -> dict[str, Any]:
    if view["kind"] == "event" and view["status"] == "open" and secret_key:
        view["resume_url"] = resume_url(public_url, secret_key, execution_id, view["node_id"])
    return view


def wait_event(row: WaitEvent) -> dict[str, Any]:
    """An event delivered to an `event` node; its payload is the node's output when accepted."""
    return {
        "id": row.id,
        "node_id": row.node_id,
        "name": row.name,
        "via": row.via,
        "status": row.status,
        "wait_id": str(row.wait_id) if row.wait_id else None,
        "received_at": iso(row.received_at),
    }


def step(row: ExecutionStep) -> dict[str, Any]:
    return {
        "node_id": row.node_id,
        "node_type": row.node_type,
        "attempt": row.attempt,
        "status": row.status,
        "started_at": iso(row.started_at),
        "completed_at": iso(row.completed_at),
        "duration_ms": row.duration_ms,
        "error": row.error,
        "output_summary": row.output_summary,
        "condition": row.condition,
    }


def wait(row: Wait) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "node_id": row.node_id,
        "kind": row.kind,
        "status": row.status,
        # What an `event` wait waits for (its name); None for other kinds.
        "name": (row.rule or {}).get("name") if row.kind == "event" else None,
        "expires_at": iso(row.expires_at),
        "decision": row.decision,
        "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at),
    }


def approval(row: Approval) -> dict[str, Any]:
    """One approver of a gate: who, what they decided, when, and from where."""
    return {
        "id": str(row.id),
        "node_id": row.node_id,
        "wait_id": str(row.wait_id),
        "email": row.email,
        "name": row.name,
        "status": row.status,
        "decision": row.status if row.status in ("approved", "rejected") else None,
        "late": row.late,
        "comment": row.comment,
        "decided_at": iso(row.decided_at),
        "client_ip": row.client_ip,
        "user_agent": row.user_agent,
        # Decided through the decision API by this key; None: by the approver's link.
        "decided_by_key": str(row.decided_by_key) if row.decided_by_key else None,
        "notified_at": iso(row.notified_at),
        "reminders_sent": row.reminders_sent,
    }
