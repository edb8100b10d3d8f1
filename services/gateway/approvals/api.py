"""Handlers for operating approval gates: list approvers, extend, resend, reassign.

Each of the three changes answers 200 with the gate as committed; the e-mails resend and
reassign stage go out afterwards, as every e-mail does.
"""

from datetime import datetime, timedelta
from typing import Any, TypeVar, get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.gateway.approvals import operations
from services.gateway.approvals.schemas import ApproverStatus
from services.gateway.common.bodies import json_object, path_id, query_int
from services.gateway.common.problems import Problem, invalid
from services.gateway.keys import RESOURCES, TASKS, workspace_of
from shared.db.types import utcnow
from shared.nodes.fields import duration_seconds, is_email
from shared.outbox import Staged, publish_staged

STATUSES: tuple[str, ...] = get_args(ApproverStatus)
DEFAULT_LIMIT = 100
MAX_LIMIT = 500

M = TypeVar("M", bound=BaseModel)


class ExtendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: An ISO-8601 time with a zone; or give `expires_in`.
    expires_at: datetime | None = None
    #: A duration from now: seconds or `"48h"`, `"3d"`.
    expires_in: float | str | None = None

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is not None:
            duration_seconds(value)
        return value


class ResendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Only these pending approvers; all pending ones when absent.
    approvers: list[str] | None = Field(default=None, min_length=1)


class NewApprover(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=200)

    @field_validator("email")
    @classmethod
    def _address(cls, email: str) -> str:
        if not is_email(email):
            raise ValueError("is not an e-mail address")
        return email


class ReassignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    #: The pending approver to replace.
    from_: str = Field(alias="from", max_length=320)
    to: NewApprover


def parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise invalid(field, first["msg"]) from e


def _gate_path(request: web.Request) -> tuple[Any, Any, str]:
    return (
        workspace_of(request),
        path_id(request, "execution_id", "execution"),
        request.match_info["node_id"],
    )


def _publish_later(request: web.Request, staged: list[Staged]) -> None:
    if staged:
        resources = request.app[RESOURCES]
        request.app[TASKS].spawn(
            publish_staged(resources.sessions, resources.broker, staged), name="publish-approvals"
        )


def _translate(error: Exception) -> Problem:
    return Problem(409, "conflict", str(error))


async def list_approvals(request: web.Request) -> web.Response:
    status = request.query.get("status", "pending")
    if status not in STATUSES:
        raise invalid("status", f"must be one of {', '.join(STATUSES)}")
    limit = query_int(request, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    assert limit is not None
    rows = await operations.list_approvals(
        request.app[RESOURCES].sessions, workspace_of(request), status=status, limit=limit
    )
    items = [
        {
            **operations.approver_view(approval),
            "execution_id": str(approval.execution_id),
            "workflow_id": str(workflow_id),
            "node_id": approval.node_id,
            "wait_id": str(wait.id),
            "gate_status": wait.status,
            "since": approval.created_at.isoformat(),
            "expires_at": wait.expires_at.isoformat() if wait.expires_at else None,
        }
        for approval, wait, workflow_id in rows
    ]
    return web.json_response({"items": items})


async def extend(request: web.Request) -> web.Response:
    body = parse(ExtendRequest, await json_object(request))
    if (body.expires_at is None) == (body.expires_in is None):
        raise invalid("expires_at", "give exactly one of 'expires_at' or 'expires_in'")
    now = utcnow()
    if body.expires_at is not None:
        if body.expires_at.tzinfo is None:
            raise invalid("expires_at", "must carry a time zone, e.g. 2030-01-31T12:00:00Z")
        expires_at = body.expires_at
    else:
        assert body.expires_in is not None
        expires_at = now + timedelta(seconds=duration_seconds(body.expires_in))
    if expires_at <= now:
        raise invalid("expires_at", "must be in the future")
    try:
        state = await operations.extend(
            request.app[RESOURCES].sessions, *_gate_path(request), expires_at
        )
    except (operations.GateClosed, operations.ApproverConflict) as e:
        raise _translate(e) from e
    return web.json_response(operations.gate_view(state))


async def resend(request: web.Request) -> web.Response:
    body = parse(ResendRequest, await json_object(request, required=False))
    try:
        state, staged = await operations.resend(
            request.app[RESOURCES].sessions,
            *_gate_path(request),
            emails=body.approvers,
            now=utcnow(),
        )
    except (operations.GateClosed, operations.ApproverConflict) as e:
        raise _translate(e) from e
    _publish_later(request, staged)
    return web.json_response({**operations.gate_view(state), "resent": len(staged)})


async def reassign(request: web.Request) -> web.Response:
    body = parse(ReassignRequest, await json_object(request))
    try:
        state, staged = await operations.reassign(
            request.app[RESOURCES].sessions,
            *_gate_path(request),
            from_email=body.from_,
            to_email=body.to.email,
            to_name=body.to.name,
            now=utcnow(),
        )
    except (operations.GateClosed, operations.ApproverConflict) as e:
        raise _translate(e) from e
    _publish_later(request, [staged])
    return web.json_response(operations.gate_view(state))
