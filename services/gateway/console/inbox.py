"""The approvals inbox: every open gate of the workspace, with Extend, Resend and Reassign.

Each action is the API's own operation (approvals/operations.py): one transaction locking the
gate's wait, e-mails staged in the outbox with the change and published right after.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from services.gateway.approvals import operations
from services.gateway.common.bodies import path_id
from services.gateway.console.guard import PREFIX
from services.gateway.console.render import page, see_other
from services.gateway.keys import RESOURCES, TASKS, workspace_of
from shared.db.tables import Approval, Wait, Workflow
from shared.db.types import utcnow
from shared.nodes.fields import duration_seconds, is_email
from shared.outbox import Staged, publish_staged

INBOX = f"{PREFIX}/approvals"
#: More open gates than this are not shown at once (oldest first).
LIMIT = 500


@dataclass
class Gate:
    wait: Wait
    workflow_id: uuid.UUID
    workflow_name: str = ""
    pending: list[Approval] = field(default_factory=list)


async def open_gates(request: web.Request) -> list[Gate]:
    resources = request.app[RESOURCES]
    rows = await operations.list_approvals(
        resources.sessions, workspace_of(request), status="pending", limit=LIMIT
    )
    gates: dict[uuid.UUID, Gate] = {}
    for approval, wait, workflow_id in rows:
        gates.setdefault(wait.id, Gate(wait, workflow_id)).pending.append(approval)
    async with resources.sessions() as session:
        names = dict(
            (
                await session.execute(
                    select(Workflow.id, Workflow.name).where(
                        Workflow.id.in_({g.workflow_id for g in gates.values()})
                    )
                )
            ).all()
        )
    for gate in gates.values():
        gate.workflow_name = names.get(gate.workflow_id, "")
    return sorted(gates.values(), key=lambda g: g.wait.created_at)


async def show(request: web.Request) -> web.Response:
    return await _inbox(request)


async def _inbox(request: web.Request, *, status: int = 200, error: str = "") -> web.Response:
    return page(
        request,
        "inbox.html.j2",
        status=status,
        gates=await open_gates(request),
        error=error,
        gate_error=request.match_info.get("node_id", "") if error else "",
    )


async def act(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    execution_id = path_id(request, "execution_id", "execution")
    node_id = request.match_info["node_id"]
    form = await request.post()
    sessions = request.app[RESOURCES].sessions
    gate = (workspace_of(request), execution_id, node_id)
    now = utcnow()
    staged: list[Staged] = []
    try:
        if action == "extend":
            expires_at = _deadline(str(form.get("expires_in", "")).strip(), now)
            await operations.extend(sessions, *gate, expires_at)
        elif action == "resend":
            _, staged = await operations.resend(sessions, *gate, emails=None, now=now)
        else:
            to_email = str(form.get("to_email", "")).strip()
            if not is_email(to_email):
                raise _Refused("The new approver's e-mail address is not valid.")
            to_name = str(form.get("to_name", "")).strip()[:200] or None
            _, one = await operations.reassign(
                sessions,
                *gate,
                from_email=str(form.get("from_email", "")),
                to_email=to_email,
                to_name=to_name,
                now=now,
            )
            staged = [one]
    except _Refused as e:
        return await _inbox(request, status=422, error=str(e))
    except (operations.GateClosed, operations.ApproverConflict) as e:
        return await _inbox(request, status=409, error=str(e))
    if staged:
        resources = request.app[RESOURCES]
        request.app[TASKS].spawn(
            publish_staged(resources.sessions, resources.broker, staged), name="publish-approvals"
        )
    return see_other(f"{INBOX}?done={action}:{quote(node_id, safe='')}")


class _Refused(Exception):
    """A value of the form is wrong; the inbox says which."""


def _deadline(raw: str, now: datetime) -> datetime:
    try:
        return now + timedelta(seconds=duration_seconds(float(raw) if raw.isdigit() else raw))
    except ValueError as e:
        raise _Refused(f"“{raw}” is not a duration such as 90, 15m, 48h or 3d.") from e
