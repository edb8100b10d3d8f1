"""The OpenAPI description of the steps and live-events routes (see streams.py)."""

from typing import Any

from services.gateway.common.auth import API_PREFIX
from services.gateway.common.openapi_schemas import (
    CONDITION,
    INTEGER,
    STRING,
    TIME,
    UUID,
    Schema,
    ref,
)
from services.gateway.common.problems import CONTENT_TYPE as PROBLEM_TYPE

STEPS_PATH = f"{API_PREFIX}/executions/{{execution_id}}/steps"
EVENTS_PATH = f"{API_PREFIX}/executions/{{execution_id}}/events"


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def _problem(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": ref("Problem")}}}


def openapi_paths() -> dict[str, Any]:
    execution_id = {"name": "execution_id", "in": "path", "required": True, "schema": UUID}
    errors = {"401": _problem("Missing or invalid API key"), "404": _problem("No such execution")}
    return {
        STEPS_PATH: {
            "get": {
                "operationId": "listSteps",
                "summary": "The per-node log: one row per node attempt, in the order they ran",
                "parameters": [execution_id],
                "responses": {
                    "200": {
                        "description": "The steps",
                        "content": {"application/json": {"schema": ref("StepList")}},
                    },
                    **errors,
                },
            }
        },
        EVENTS_PATH: {
            "get": {
                "operationId": "streamExecutionEvents",
                "summary": (
                    "Server-Sent Events: the steps so far, then live progress, until the "
                    "execution ends. Event names: node.started|waiting|completed|failed|"
                    "interrupted|cancelled|skipped, execution.completed|failed|cancelled. Each "
                    "event has an id; reconnect with Last-Event-ID to continue after it."
                ),
                "parameters": [
                    execution_id,
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": STRING,
                        "description": "The id of the last event received",
                    },
                    {
                        "name": "last_event_id",
                        "in": "query",
                        "required": False,
                        "schema": STRING,
                        "description": "The same, for clients that cannot set headers",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An event stream",
                        "content": {"text/event-stream": {"schema": STRING}},
                    },
                    "204": {"description": "The execution ended and every event was sent"},
                    **errors,
                },
            }
        },
    }


def openapi_schemas() -> dict[str, Schema]:
    step = {
        "id": INTEGER,
        "execution_id": UUID,
        "node_id": STRING,
        "node_type": STRING,
        "attempt": INTEGER,
        "status": STRING,
        "started_at": TIME,
        "completed_at": _nullable(TIME),
        "duration_ms": _nullable(INTEGER),
        "error": _nullable(STRING),
        "output_summary": _nullable({"type": "object"}),
        "condition": _nullable(CONDITION),
    }
    return {
        "Step": {"type": "object", "properties": step, "required": list(step)},
        "StepList": {
            "type": "object",
            "properties": {
                "execution_id": UUID,
                "status": STRING,
                "items": {"type": "array", "items": ref("Step")},
            },
            "required": ["execution_id", "status", "items"],
        },
    }
