"""JSON shapes of saved workflows. Datetimes are ISO-8601 in UTC."""

from typing import Any

from services.gateway.common.iso import iso
from services.gateway.workflows.store import WorkflowRecord, WorkflowSummary
from shared.config_secrets import Models, redacted


def workflow(
    record: WorkflowRecord, models: Models, *, warnings: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A saved version; `warnings` (what was allowed but looks unmeant) only when saving."""
    body = {
        "id": str(record.id),
        "name": record.name,
        "version": record.version,
        # Secrets are write-only: shown as {"set": true}, never their value.
        "definition": redacted(record.definition, models),
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }
    if warnings:
        body["warnings"] = warnings
    return body


def workflow_summary(summary: WorkflowSummary) -> dict[str, Any]:
    return {
        "id": str(summary.id),
        "name": summary.name,
        "version": summary.version,
        "created_at": iso(summary.created_at),
        "updated_at": iso(summary.updated_at),
    }
