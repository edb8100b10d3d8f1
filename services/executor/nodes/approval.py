"""`human-in-loop`: pause until people approve or reject, or the deadline passes.

The node opens one wait and one approval row per approver in its checkpoint's transaction,
and stages one e-mail per approver (the notifier mints each link as it sends). The gateway
records decisions; `settle` applies the rule to them inside the transaction that resumes
the execution, so the run goes on exactly once.
"""

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes import approval_rows as rows
from services.executor.nodes.approval_request import GateError, render_gate
from services.executor.nodes.approval_rule import (
    EXPIRED,
    Tally,
    decision,
    outcome,
    timeout_outcome,
)
from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType, Wait
from shared.approval_links import mail_key
from shared.broker.topology import EMAIL
from shared.db.types import utcnow
from shared.messages import ApprovalEmail, Message
from shared.nodes.approval import GATE_OUTPUT_KEYS, ApprovalConfig
from shared.state_machine.waits import WaitRecord, WaitSpec
from shared.status import ApprovalStatus


class ApprovalNode(NodeType):
    type_name: ClassVar[str] = "human-in-loop"
    config_model = ApprovalConfig

    async def run(self, call: NodeCall) -> NodeResult:
        try:
            gate = render_gate(call)
        except GateError as e:
            return Failed(str(e))
        now = utcnow()
        wait_id = uuid.uuid4()
        next_reminder = (
            now + timedelta(seconds=gate.reminder_every_seconds)
            if gate.reminder_every_seconds
            else None
        )
        approvals: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "wait_id": wait_id,
                "execution_id": call.execution_id,
                "workspace_id": call.workspace_id,
                "node_id": call.node_id,
                "position": position,
                "email": email,
                "name": name,
                "status": "pending",
                "late": False,
                "created_at": now,
                "notified_at": now,
                "reminders_sent": 0,
                "next_reminder_at": next_reminder,
            }
            for position, (email, name) in enumerate(gate.approvers)
        ]

        async def writes(conn: AsyncConnection) -> None:
            await rows.insert_approvals(conn, approvals)

        outbox: list[tuple[str, Message]] = [
            (
                EMAIL,
                ApprovalEmail(
                    approval_id=row["id"],
                    purpose="request",
                    idempotency_key=mail_key(call.execution_id, call.node_id, row["id"], "request"),
                ),
            )
            for row in approvals
        ]
        spec = WaitSpec(kind="approval", id=wait_id, expires_at=gate.expires_at, rule=gate.rule)
        return Wait(spec, writes=writes, outbox=outbox)

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        # The caller (claims.claim_resume) read the wait open and holds its row lock: the
        # decisions read here are all that were committed, and any later one is late.
        counted = await rows.counted_approvals(conn, wait.id)
        tally = Tally.of([row.status for row in counted])
        now = utcnow()
        approvers = [rows.approver_view(row) for row in counted]
        result = outcome(wait.rule["required"], tally)
        if result is not None:
            return decision(wait.rule, tally, result, by="rule", at=now, approvers=approvers)
        # An `extend` may have moved the deadline after the scheduler fired: the wait was read
        # under its lock, so its deadline is the one that holds.
        if reason == "expired" and wait.expires_at is not None and wait.expires_at <= now:
            on_timeout = timeout_outcome(wait.rule["on_timeout"])
            # Those who had not decided are shown as what happened to them: the deadline.
            await rows.expire_pending(conn, wait.id)
            approvers = [
                {**a, "status": ApprovalStatus.EXPIRED} if a["status"] == "pending" else a
                for a in approvers
            ]
            return decision(wait.rule, tally, on_timeout, by="timeout", at=now, approvers=approvers)
        return None

    def wait_status(self, decision: dict[str, Any]) -> str:
        # Only `on_timeout: fail` decides `expired`; approve / reject on timeout are decisions.
        return "expired" if decision.get("outcome") == EXPIRED else "decided"

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        decided = wait.decision or {}
        result = decided.get("outcome")
        counts = (
            f"{decided.get('approved', 0)} approved, {decided.get('rejected', 0)} rejected, "
            f"{decided.get('pending', 0)} pending, {decided.get('required')} required"
        )
        if result == EXPIRED:
            deadline = wait.expires_at.isoformat() if wait.expires_at else "its deadline"
            return Failed(
                f"approval gate {call.node_id!r} expired at {deadline} without a decision "
                f"({counts}); on_timeout is 'fail'"
            )
        on_reject = wait.rule.get("on_reject", "fail")
        if result == "rejected" and on_reject == "fail":
            return Failed(f"approval gate {call.node_id!r} was rejected ({counts})")
        context = call.context.model_copy(
            update={"approvals": {**call.context.approvals, call.node_id: decided}}
        )
        summary = {key: decided.get(key) for key in GATE_OUTPUT_KEYS}
        return Completed(output=summary, context=context)
