"""/api/v1/workflows: save, version and read workflow definitions."""

from typing import Annotated

from pydantic import Field

from services.gateway.common.operations import (
    BODY_ERRORS,
    UNAUTHORIZED,
    Body,
    Link,
    Operation,
    json,
    links_to,
    path,
    problem,
    query,
)
from services.gateway.common.routing import API_PREFIX
from services.gateway.workflows import api
from services.gateway.workflows.schemas import Workflow, WorkflowList
from shared.workflows import WorkflowDefinition

WORKFLOWS = f"{API_PREFIX}/workflows"
WORKFLOW = f"{WORKFLOWS}/{{workflow_id}}"
NOT_FOUND = {404: problem("No such object in this workspace")}
#: The operations a workflow's id leads to.
USE_WORKFLOW = [
    "getWorkflow",
    "updateWorkflow",
    "startExecution",
    "listExecutions",
    "createHookSecret",
    "getHookSecret",
    "deleteHookSecret",
    "receiveHook",
]


def operations() -> list[Operation]:
    workflow_id = path("workflow_id", description="Workflow id")
    return [
        Operation(
            "GET",
            WORKFLOWS,
            api.list_all,
            operation_id="listWorkflows",
            summary="The workspace's workflows, newest first",
            responses={
                200: json("Workflows", WorkflowList, _links("$response.body#/items/0")),
                **UNAUTHORIZED,
            },
        ),
        Operation(
            "POST",
            WORKFLOWS,
            api.create,
            operation_id="createWorkflow",
            summary="Save a new workflow as version 1",
            body=Body(WorkflowDefinition),
            responses={
                201: json(
                    "Created; Location names it",
                    Workflow,
                    _links("$response.body#"),
                ),
                **UNAUTHORIZED,
                **BODY_ERRORS,
                503: problem("DOCFLOW_SECRET_KEY not set; node secrets are stored encrypted"),
            },
        ),
        Operation(
            "GET",
            WORKFLOW,
            api.read,
            name="workflow",
            operation_id="getWorkflow",
            summary="The current version, or the one asked for",
            parameters=[
                workflow_id,
                query(
                    "version", Annotated[int, Field(ge=1, le=api.MAX_VERSION)], "An older version"
                ),
            ],
            responses={
                200: json("The workflow", Workflow),
                **UNAUTHORIZED,
                **NOT_FOUND,
                422: problem("Bad query parameter"),
            },
        ),
        Operation(
            "PUT",
            WORKFLOW,
            api.replace,
            operation_id="updateWorkflow",
            summary="Save a new version (none when the definition is unchanged); running "
            "executions keep theirs",
            parameters=[workflow_id],
            body=Body(WorkflowDefinition),
            responses={
                200: json("The new version, or the current one when nothing changed", Workflow),
                **UNAUTHORIZED,
                **NOT_FOUND,
                **BODY_ERRORS,
                503: problem("DOCFLOW_SECRET_KEY not set; node secrets are stored encrypted"),
            },
        ),
    ]


def _links(workflow: str) -> dict[str, Link]:
    """Links from the workflow at this JSON pointer; a read asks for the version it has (a
    version drawn at random would only ever be 404)."""
    links = links_to(USE_WORKFLOW, "workflow_id", f"{workflow}/id")
    links["getWorkflow"] = Link(
        "getWorkflow", {"workflow_id": f"{workflow}/id", "version": f"{workflow}/version"}
    )
    return links
