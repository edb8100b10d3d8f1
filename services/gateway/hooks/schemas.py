"""What the hook routes answer, as the OpenAPI document shows it (api.py and hubspot.py build
the answers; these models describe them)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class HookSecret(BaseModel):
    workflow_id: uuid.UUID
    url: str
    secret: str | SkipJsonSchema[None] = Field(
        default=None, description="`whsec_…`; only in the answer that created it"
    )
    created_at: datetime
    rotated_at: datetime | None
    previous_valid_until: datetime | None


class HookRun(BaseModel):
    """The run a hook delivery started, or the first one for a repeated `webhook-id`."""

    execution_id: uuid.UUID | None
    status: str | SkipJsonSchema[None] = Field(
        default=None, description="`queued`; absent from the answer to a repeat"
    )
    duplicate: bool


class HubSpotEventsAnswer(BaseModel):
    events: int
    duplicates: int
    executions: list[uuid.UUID]
