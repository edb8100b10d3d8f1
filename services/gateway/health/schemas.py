"""What liveness and readiness answer, as the OpenAPI document shows it."""

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    #: Each dependency checked, by name.
    checks: dict[str, Literal["ok", "failed"]]
