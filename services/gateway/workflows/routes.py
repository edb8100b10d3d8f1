"""/api/v1/workflows: save, version and read workflow definitions."""

from typing import Annotated

from pydantic import Field

from services.gateway.common.operations import (
    BODY_ERRORS,
    UNAUTHORIZED,
    Body,
    Operation,
    json,
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


def operations() -> list[Operation]:
    workflow_id = path("workflow_id", description="Workflow id")
    return [
        Operation(
            "GET",
            WORKFLOWS,
            api.list_all,
            operation_id="listWorkflows",
            summary="The workspace's workflows, newest first",
            responses={200: json("Workflows", WorkflowList), **UNAUTHORIZED},
        ),
        Operation(
            "POST",
            WORKFLOWS,
            api.create,
            operation_id="createWorkflow",
            summary="Save a new workflow as version 1",
            body=Body(WorkflowDefinition),
            responses={
                201: json("Created; Location names it", Workflow),
                **UNAUTHORIZED,
                **BODY_ERRORS,
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
                query("version", Annotated[int, Field(ge=1)], "An older version"),
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
            },
        ),
    ]
