"""What the workflow routes answer, as the OpenAPI document shows it (views.py builds the
answers; these models describe them). Bodies are `shared.workflows.WorkflowDefinition`."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from services.gateway.common.answers import FieldError
from shared.workflows import WorkflowDefinition


class Workflow(BaseModel):
    id: uuid.UUID
    name: str
    version: int
    definition: WorkflowDefinition
    created_at: datetime
    updated_at: datetime
    # Absent, not null, when there are none: SkipJsonSchema keeps null out of the document.
    warnings: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None,
        description="Only in the answer to a save: what was allowed but looks unmeant, "
        "e.g. a `when` that can only render a string",
    )
    changed: bool | SkipJsonSchema[None] = Field(
        default=None,
        description="Only in the answer to a PUT: false when the definition is the current "
        "version's and nothing was saved",
    )


class WorkflowSummary(BaseModel):
    id: uuid.UUID
    name: str
    version: int
    created_at: datetime
    updated_at: datetime


class WorkflowList(BaseModel):
    items: list[WorkflowSummary]
