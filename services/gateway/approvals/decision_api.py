"""The decision API: an integration (a chat app, the console) decides for one approver.

The same compare-and-set as the approver's own link (decisions.record): exactly one decision
per approver, whoever clicks or calls first; the row names the API key that decided.
"""

import uuid
from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.approvals import decisions
from services.gateway.approvals.api import parse
from services.gateway.approvals.decisions import ByApprover, Refusal
from services.gateway.common.auth import key_hash_of
from services.gateway.common.bodies import json_object, path_id
from services.gateway.common.problems import Problem, invalid, not_found
from services.gateway.common.resume_publish import publish_then_flush
from services.gateway.keys import RESOURCES, workspace_of
from shared.db.tables import Execution, Wait
from shared.db.types import utcnow

log = structlog.get_logger()

Status = Literal["approved", "rejected"]
_STATUSES: dict[str, Status] = {"approve": "approved", "reject": "rejected"}

_CONFLICTS = {
    Refusal.USED: "this approver has already decided",
    Refusal.CLOSED: "the gate is no longer open (decided, expired or its run ended)",
    Refusal.EXPIRED: "the gate's deadline has passed",
    Refusal.REPLACED: "this approver's links were replaced",
    Refusal.CONFLICT: "another request decided for this approver first",
}


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The approver's e-mail address, as the gate lists it.
    approver: str = Field(min_length=1, max_length=320)
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=decisions.MAX_COMMENT_CHARS)


class DecisionRecorded(BaseModel):
    execution_id: uuid.UUID
    node_id: str
    approver: str
    decision: Status
    #: The gate had already decided: recorded, and changes nothing.
    late: bool


async def decide(request: web.Request) -> web.Response:
    body = parse(DecisionRequest, await json_object(request))
    workspace_id = workspace_of(request)
    execution_id = path_id(request, "execution_id", "execution")
    node_id = request.match_info["node_id"]
    resources = request.app[RESOURCES]
    status = _STATUSES[body.decision]
    outcome = await decisions.record(
        resources.sessions,
        ByApprover(workspace_id, execution_id, node_id, body.approver, key_hash_of(request)),
        decision=status,
        comment=body.comment.strip(),
        client_ip=request.remote,
        user_agent=request.headers.get("User-Agent"),
        now=utcnow(),
    )
    if outcome is Refusal.UNKNOWN:
        await _gate_or_404(resources.sessions, workspace_id, execution_id, node_id)
        raise invalid("approver", "is not an approver of this gate")
    if isinstance(outcome, Refusal):
        raise Problem(409, "conflict", _CONFLICTS[outcome])
    await publish_then_flush(request, outcome.staged, name="publish-approval-resume")
    log.info("approval_recorded", decision=outcome.decision, late=outcome.late, by="api")
    answer = DecisionRecorded(
        execution_id=execution_id,
        node_id=node_id,
        approver=body.approver,
        decision=status,
        late=outcome.late,
    )
    return web.json_response(answer.model_dump(mode="json"))


async def _gate_or_404(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    node_id: str,
) -> None:
    async with sessions() as session:
        gate = await session.scalar(
            select(Wait.id)
            .join(Execution, Execution.id == Wait.execution_id)
            .where(
                Execution.id == execution_id,
                Execution.workspace_id == workspace_id,
                Wait.node_id == node_id,
                Wait.kind == "approval",
            )
            .limit(1)
        )
    if gate is None:
        raise not_found("approval gate", node_id)
