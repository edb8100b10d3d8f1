"""What the connection routes answer, as the OpenAPI document shows it (api.py builds the
answers and holds the request models)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class Connection(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    fields: list[str]
    created_at: datetime
    updated_at: datetime
    webhook_url: str | SkipJsonSchema[None] = Field(
        default=None,
        description="clicksign and zapsign: where the provider sends this account's webhooks",
    )


class ConnectionList(BaseModel):
    items: list[Connection]
