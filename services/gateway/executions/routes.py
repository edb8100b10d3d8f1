"""Executions: start a run, read and list runs, cancel and retry, follow their steps, and
deliver events to their `event` nodes."""

import uuid
from typing import Annotated, Any

from pydantic import Field

from services.gateway.common.operations import (
    BODY_ERRORS,
    FIRST_ID,
    UNAUTHORIZED,
    Answer,
    Body,
    Link,
    Operation,
    header,
    json,
    links_to,
    path,
    problem,
    query,
)
from services.gateway.common.routing import API_PREFIX
from services.gateway.executions import api, streams, wait_event_api
from services.gateway.executions.api import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY, MAX_PAGE
from services.gateway.executions.schemas import (
    CancelAccepted,
    Execution,
    ExecutionAccepted,
    ExecutionPage,
    RetryAccepted,
    RunRequest,
    StepList,
    StreamEvent,
    WaitEventAccepted,
)
from shared.status import ExecutionStatus

EXECUTIONS = f"{API_PREFIX}/executions"
EXECUTION = f"{EXECUTIONS}/{{execution_id}}"
START = f"{API_PREFIX}/workflows/{{workflow_id}}/executions"
STEPS = f"{EXECUTION}/steps"
EVENTS = f"{EXECUTION}/events"
#: Deliver a named event (API key) or deliver it through a resume URL (the token is the key).
NAMED_EVENT = f"{EXECUTION}/events/{{name}}"
RESUME = f"{API_PREFIX}/resume/{{execution_id}}/{{node_id}}/{{token}}"

NOT_FOUND = {404: problem("No such object in this workspace")}
CONFLICT = {409: problem("The execution's status does not allow this")}
#: An empty key is refused (422) as a too long one is.
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)]
EVENT_PAYLOAD = Body(
    Any,
    required=False,
    description="The event's payload: any JSON value (the node's `schema` may restrict it). "
    "It becomes the node's output.",
)


#: What an approval gate's execution id and node id lead to.
GATE_OPERATIONS = ["extendGate", "resendGate", "reassignGate", "decideGate"]
#: The operations a new execution's id leads to.
USE_EXECUTION = [
    "getExecution",
    "cancelExecution",
    "retryExecution",
    "listSteps",
    "streamExecutionEvents",
    "postWaitEvent",
    "listDocuments",
    "extendGate",
    "resendGate",
    "reassignGate",
    "decideGate",
]


def operations() -> list[Operation]:
    return [*_runs(), *_steps(), *_events()]


def _runs() -> list[Operation]:
    execution_id = path("execution_id", description="Execution id")
    return [
        Operation(
            "POST",
            START,
            api.start,
            operation_id="startExecution",
            summary="Queue a run of the current version; answers before any node runs",
            parameters=[
                path("workflow_id", description="Workflow id"),
                header(
                    IDEMPOTENCY_HEADER,
                    IdempotencyKey,
                    "The same key for the same workflow returns the same run",
                ),
            ],
            body=Body(RunRequest, required=False),
            responses={
                202: json(
                    "Queued; Location names the execution",
                    ExecutionAccepted,
                    links_to(USE_EXECUTION, "execution_id", "$response.body#/execution_id"),
                ),
                **UNAUTHORIZED,
                **NOT_FOUND,
                **BODY_ERRORS,
            },
        ),
        Operation(
            "GET",
            EXECUTIONS,
            api.list_page,
            operation_id="listExecutions",
            summary="Executions, newest first, in pages",
            parameters=[
                query("status", ExecutionStatus, "Only this status"),
                query("workflow_id", uuid.UUID, "Only this workflow's"),
                query("limit", Annotated[int, Field(ge=1, le=MAX_PAGE)], "Page size"),
                query("cursor", str, "`next_cursor` of the previous page"),
            ],
            responses={
                200: json(
                    "A page", ExecutionPage, links_to(USE_EXECUTION, "execution_id", FIRST_ID)
                ),
                **UNAUTHORIZED,
                422: problem("Bad query parameter; `field` names it"),
            },
        ),
        Operation(
            "GET",
            EXECUTION,
            api.read,
            name="execution",
            operation_id="getExecution",
            summary="An execution with its steps and waits",
            parameters=[execution_id],
            responses={
                200: json("The execution", Execution, _from_execution()),
                **UNAUTHORIZED,
                **NOT_FOUND,
            },
        ),
        Operation(
            "POST",
            f"{EXECUTION}/cancel",
            api.cancel,
            operation_id="cancelExecution",
            summary="Ask the executor to cancel; refused once final",
            parameters=[execution_id],
            responses={
                202: json("Cancel requested", CancelAccepted),
                **UNAUTHORIZED,
                **NOT_FOUND,
                **CONFLICT,
            },
        ),
        Operation(
            "POST",
            f"{EXECUTION}/retry",
            api.retry,
            operation_id="retryExecution",
            summary="Ask the executor to continue a failed execution from the failed node",
            parameters=[execution_id],
            responses={
                202: json("Retry requested", RetryAccepted),
                **UNAUTHORIZED,
                **NOT_FOUND,
                **CONFLICT,
            },
        ),
    ]


def _from_execution() -> dict[str, Link]:
    """What an execution's answer leads to: the event its first wait waits for (or the gate
    it is), its documents and its first signature request (absent when it has none: nothing
    to follow)."""
    this = "$request.path.execution_id"
    request_id = "$response.body#/signature_requests/0/id"
    gate = {"execution_id": this, "node_id": "$response.body#/waits/0/node_id"}
    return {
        **{target: Link(target, gate) for target in GATE_OPERATIONS},
        "postWaitEvent": Link(
            "postWaitEvent", {"execution_id": this, "name": "$response.body#/waits/0/name"}
        ),
        "listDocuments": Link("listDocuments", {"execution_id": this}),
        **links_to(["getSignatureRequest", "getSignedDocument"], "request_id", request_id),
    }


def _steps() -> list[Operation]:
    execution_id = path("execution_id")
    errors = {**UNAUTHORIZED, 404: problem("No such execution")}
    return [
        Operation(
            "GET",
            STEPS,
            streams.steps,
            operation_id="listSteps",
            summary="The per-node log: one row per node attempt, in the order they ran",
            parameters=[execution_id],
            responses={200: json("The steps", StepList), **errors},
        ),
        Operation(
            "GET",
            EVENTS,
            streams.events,
            operation_id="streamExecutionEvents",
            summary=(
                "Server-Sent Events: the steps so far, then live progress, until the "
                "execution ends or DOCFLOW_EVENT_STREAM_MAX_SECONDS pass. Event names: "
                "node.started|waiting|completed|failed|interrupted|cancelled|skipped, "
                "execution.completed|failed|cancelled. Each event has an id; reconnect with "
                "Last-Event-ID to continue after it."
            ),
            parameters=[
                execution_id,
                header("Last-Event-ID", str, "The id of the last event received"),
                query("last_event_id", str, "The same, for clients that cannot set headers"),
            ],
            responses={
                200: Answer("An event stream", {"text/event-stream": StreamEvent}),
                204: Answer("The execution ended and every event was sent"),
                **errors,
            },
        ),
    ]


def _events() -> list[Operation]:
    execution_id = path("execution_id")
    return [
        Operation(
            "POST",
            NAMED_EVENT,
            wait_event_api.post_event,
            operation_id="postWaitEvent",
            summary="Deliver a named event to the execution's `event` node",
            parameters=[
                execution_id,
                path("name", str),
                header(IDEMPOTENCY_HEADER, IdempotencyKey),
            ],
            body=EVENT_PAYLOAD,
            responses={**_event_answers(), **UNAUTHORIZED},
        ),
        Operation(
            "POST",
            RESUME,
            wait_event_api.post_to_resume_url,
            operation_id="postToResumeUrl",
            summary="Deliver the event through the wait's resume URL "
            "(`waits.<node_id>.resume_url`); only POST resumes",
            parameters=[execution_id, path("node_id", str), path("token", str)],
            body=EVENT_PAYLOAD,
            responses=_event_answers(),
        ),
    ]


def _event_answers() -> dict[int, Answer]:
    return {
        202: json(
            "Recorded; the run goes on (a repeat answers as the first did)", WaitEventAccepted
        ),
        400: problem("The body is not JSON"),
        404: problem("No such execution or event node (or an invalid resume URL)"),
        409: problem("Late: the wait had decided or expired, or the run had ended"),
        413: problem("The body is too large"),
        422: problem("The payload does not match the node's schema"),
        503: problem("The database is unavailable; nothing was recorded"),
    }
