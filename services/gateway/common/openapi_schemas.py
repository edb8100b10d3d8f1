"""Component schemas of the OpenAPI document for what the API returns (hand-written: the
responses are shaped in views.py, not by pydantic models)."""

from typing import Any

from shared.status import ExecutionStatus

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
UUID: Schema = {"type": "string", "format": "uuid"}
TIME: Schema = {"type": "string", "format": "date-time"}
JSON_OBJECT: Schema = {"type": "object", "additionalProperties": True}
STATUS: Schema = {"type": "string", "enum": [s.value for s in ExecutionStatus]}
#: A step's `when`: the expression, its value, and whether that value was true.
CONDITION: Schema = {
    "type": "object",
    "properties": {"when": {"type": "string"}, "value": {}, "result": {"type": "boolean"}},
    "required": ["when", "value", "result"],
}


def response_schemas() -> dict[str, Schema]:
    execution_summary = {
        "id": UUID,
        "workflow_id": UUID,
        "workflow_version": INTEGER,
        "status": STATUS,
        "current_node_id": _nullable(STRING),
        "error": _nullable(STRING),
        "created_at": TIME,
        "started_at": _nullable(TIME),
        "finished_at": _nullable(TIME),
        "execution_time_ms": _nullable(INTEGER),
    }
    return {
        "Problem": _object(
            {
                "type": STRING,
                "title": STRING,
                "status": INTEGER,
                "detail": STRING,
                "field": STRING,
                "errors": {
                    "type": "array",
                    "items": _object({"field": STRING, "message": STRING}),
                },
            },
            required=["type", "title", "status", "detail"],
        ),
        "Workflow": _object(
            {
                "id": UUID,
                "name": STRING,
                "version": INTEGER,
                "definition": ref("WorkflowDefinition"),
                "created_at": TIME,
                "updated_at": TIME,
                "warnings": {
                    "type": "array",
                    "description": "Only in the answer to a save: what was allowed but "
                    "looks unmeant, e.g. a `when` that can only render a string",
                    "items": _object({"field": STRING, "message": STRING}),
                },
            },
            required=["id", "name", "version", "definition", "created_at", "updated_at"],
        ),
        "WorkflowList": _object(
            {
                "items": {
                    "type": "array",
                    "items": _object(
                        {
                            "id": UUID,
                            "name": STRING,
                            "version": INTEGER,
                            "created_at": TIME,
                            "updated_at": TIME,
                        }
                    ),
                }
            }
        ),
        "RunRequest": {
            "type": "object",
            "properties": {"trigger_data": JSON_OBJECT},
            "additionalProperties": False,
        },
        "ExecutionAccepted": _object(
            {
                "execution_id": UUID,
                "status": STATUS,
                "workflow_id": UUID,
                "workflow_version": INTEGER,
            }
        ),
        "ExecutionSummary": _object(execution_summary),
        "ExecutionPage": _object(
            {
                "items": {"type": "array", "items": ref("ExecutionSummary")},
                "next_cursor": _nullable(STRING),
            }
        ),
        "Execution": _object(
            {
                **execution_summary,
                "context": JSON_OBJECT,
                "trigger_data": JSON_OBJECT,
                "steps": {"type": "array", "items": ref("ExecutionStep")},
                "waits": {"type": "array", "items": ref("Wait")},
                "approvals": {"type": "array", "items": ref("Approver")},
                "signature_requests": {"type": "array", "items": ref("SignatureRequest")},
            }
        ),
        "ExecutionStep": _object(
            {
                "node_id": STRING,
                "node_type": STRING,
                "attempt": INTEGER,
                "status": STRING,
                "started_at": TIME,
                "completed_at": _nullable(TIME),
                "duration_ms": _nullable(INTEGER),
                "error": _nullable(STRING),
                "output_summary": _nullable(JSON_OBJECT),
                "condition": _nullable(CONDITION),
            }
        ),
        "Wait": _object(
            {
                "id": UUID,
                "node_id": STRING,
                "kind": {"type": "string", "enum": ["timer", "retry", "approval", "signature"]},
                "status": {"type": "string", "enum": ["open", "decided", "expired", "cancelled"]},
                "expires_at": _nullable(TIME),
                "decision": _nullable(JSON_OBJECT),
                "created_at": TIME,
                "decided_at": _nullable(TIME),
            }
        ),
        "CancelAccepted": _object(
            {"execution_id": UUID, "status": STATUS, "cancel_requested": {"const": True}}
        ),
        "RetryAccepted": _object(
            {"execution_id": UUID, "status": STATUS, "retry_requested": {"const": True}}
        ),
        "Health": _object({"status": STRING}),
        "Readiness": _object(
            {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "checks": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "enum": ["ok", "failed"]},
                },
            }
        ),
    }
