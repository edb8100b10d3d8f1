"""Config of the `human-in-loop` node: who approves, by which rule, until when."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.nodes.base import NodeConfig
from shared.nodes.fields import (
    address_or_template,
    check_deadline_and_count,
    optional_duration,
)
from shared.templating import is_template

#: One gate asks at most this many people; a larger list is almost certainly a mistake.
MAX_APPROVERS = 200
#: The decision's fields a completed gate outputs (`nodes.<gate>`); the whole decision is in
#: `approvals.<gate>`. The node's `resume` and the one-statement resume both build it from here.
GATE_OUTPUT_KEYS = ("outcome", "by", "approved", "rejected")


class Approver(BaseModel):
    """`{email, name}`, or just the address as a string (`"ana@example.com"`), as a template
    rendering to a list may give them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: An address, or a template that renders to one.
    email: str = Field(min_length=1, max_length=320)
    name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _plain_address(cls, value: Any) -> Any:
        return {"email": value} if isinstance(value, str) else value

    @field_validator("email")
    @classmethod
    def _looks_like_an_address(cls, email: str) -> str:
        return address_or_template(email)


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
        return optional_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> "ApprovalConfig":
        check_deadline_and_count(
            expires_in=self.expires_in,
            expires_at=self.expires_at,
            rule_field="strategy",
            rule=self.strategy,
            required=self.required,
            people=self.approvers,
            noun="approvers",
        )
        return self
