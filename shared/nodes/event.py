"""Config of the `event` node: wait until someone calls back with a named event."""

from typing import Any, Literal

import jsonschema
from pydantic import ConfigDict, Field, field_validator, model_validator

from shared.nodes.base import NodeConfig
from shared.nodes.fields import optional_duration

#: Event names travel in URL paths (`/executions/{id}/events/{name}`): no slashes or spaces.
EVENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"


class EventConfig(NodeConfig):
    """`{"name", "expires_in" | "expires_at", "on_timeout", "schema"}`.

    The payload of the event that decides the wait is the node's output. `schema` is a JSON
    Schema the payload must match (else the event is refused with 422 and not recorded).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=EVENT_NAME_PATTERN)
    #: Seconds or `"90m"`, `"48h"`, `"3d"` from when the wait opens.
    expires_in: float | str | None = None
    #: An ISO-8601 time, possibly templated.
    expires_at: str | None = None
    on_timeout: Literal["fail", "continue"] = "fail"
    #: `schema` shadows a BaseModel attribute name in pydantic, hence the alias.
    payload_schema: dict[str, Any] | None = Field(default=None, alias="schema")

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        return optional_duration(value)

    @model_validator(mode="after")
    def _one_deadline_and_a_valid_schema(self) -> "EventConfig":
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("give at most one of 'expires_in' or 'expires_at'")
        if self.payload_schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(self.payload_schema)
            except jsonschema.SchemaError as e:
                raise ValueError(f"'schema' is not a valid JSON Schema: {e.message}") from e
        return self
