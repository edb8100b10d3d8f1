"""Config of the `human-in-loop` node: who approves, by which rule, until when."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.nodes.base import NodeConfig
from shared.templating import is_template

#: Enough to refuse a typo at save time; the SMTP server is the real judge of an address.
EMAIL_PATTERN = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_DURATION = re.compile(r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
#: One gate asks at most this many people; a larger list is almost certainly a mistake.
MAX_APPROVERS = 200
MAX_DURATION_SECONDS = 366 * 86_400


def duration_seconds(value: float | str) -> float:
    """`90`, `"90s"`, `"15m"`, `"48h"`, `"3d"`, `"2w"` → seconds. Raises ValueError."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as 90, '15m', '48h' or '3d'")
        seconds = float(match["amount"]) * _UNIT_SECONDS[match["unit"] or "s"]
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"must be more than 0 seconds and at most {MAX_DURATION_SECONDS}")
    return seconds


def is_email(value: str) -> bool:
    return EMAIL_PATTERN.match(value) is not None


class Approver(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: An address, or a template that renders to one.
    email: str = Field(min_length=1, max_length=320)
    name: str | None = Field(default=None, max_length=200)

    @field_validator("email")
    @classmethod
    def _looks_like_an_address(cls, email: str) -> str:
        if not is_template(email) and not is_email(email):
            raise ValueError(f"{email!r} is not an e-mail address")
        return email


class ApprovalConfig(NodeConfig):
    """`approvers` is a list, or one template rendering to a list of addresses or
    `{email, name}` objects (e.g. `{{ source.deal.approvers }}`)."""

    approvers: list[Approver] | str = Field(min_length=1)
    strategy: Literal["any", "all", "quorum"] = "any"
    #: Approvals needed; only with `quorum`.
    required: int | None = Field(default=None, ge=1, le=MAX_APPROVERS)
    #: Seconds (`172800`) or a duration (`"48h"`, `"3d"`); or give `expires_at`.
    expires_in: float | str | None = None
    #: An ISO-8601 time, possibly templated.
    expires_at: str | None = None
    on_timeout: Literal["approve", "reject", "fail"] = "fail"
    on_reject: Literal["fail", "continue"] = "fail"
    #: Remind approvers still pending this often (a duration); None: never.
    reminder_every: float | str | None = None
    subject: str = Field(default="Approval requested", min_length=1, max_length=500)
    message: str = Field(default="", max_length=20_000)
    #: Label → value (templated), shown on the approval page and in the e-mail (the deal).
    details: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("approvers")
    @classmethod
    def _bounded(cls, approvers: list[Approver] | str) -> list[Approver] | str:
        if isinstance(approvers, str):
            if not is_template(approvers):
                raise ValueError("must be a list of approvers, or a template rendering to one")
            return approvers
        if len(approvers) > MAX_APPROVERS:
            raise ValueError(f"at most {MAX_APPROVERS} approvers")
        literal = [a.email.lower() for a in approvers if not is_template(a.email)]
        if len(literal) != len(set(literal)):
            raise ValueError("an approver is listed twice")
        return approvers

    @field_validator("expires_in", "reminder_every")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is not None:
            duration_seconds(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ApprovalConfig":
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("give at most one of 'expires_in' or 'expires_at'")
        if self.strategy == "quorum" and self.required is None:
            raise ValueError("strategy 'quorum' needs 'required'")
        if self.strategy != "quorum" and self.required is not None:
            raise ValueError("'required' is only for strategy 'quorum'")
        if (
            self.required is not None
            and isinstance(self.approvers, list)
            and self.required > len(self.approvers)
        ):
            raise ValueError(
                f"'required' is {self.required} but only {len(self.approvers)} approvers are listed"
            )
        return self
