"""What the API-key routes answer, as the OpenAPI document shows it (api.py builds the
answers and holds the request model)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class ApiKey(BaseModel):
    id: uuid.UUID
    prefix: str
    name: str | None
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    key: str | SkipJsonSchema[None] = Field(
        default=None, description="Only in the answer that created it"
    )


class ApiKeyList(BaseModel):
    items: list[ApiKey]
