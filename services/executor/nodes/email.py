"""Sending an e-mail from a workflow: the node pauses until the server took it.

`run` renders the e-mail and returns a `Wait(kind="email")` whose outbox carries the
`SendEmail`, so the message leaves only once the pause is committed. The notifier delivers it
(retrying transient trouble itself), records the outcome on the delivery row and stages a
`fact` resume; `settle` reads that row in the deciding transaction. A re-run node uses the same
idempotency key, so an e-mail already sent is never sent again: its wait settles on open.
"""

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType, Wait
from services.executor.nodes.email_content import (
    BadEmail,
    addresses,
    attachments,
    render_html,
    text_of,
)
from shared.broker.topology import EMAIL
from shared.db.tables import Connection, EmailDelivery
from shared.db.types import utcnow
from shared.messages import SendEmail
from shared.nodes.base import RetryPolicy
from shared.nodes.email import EMAIL_DEFAULT_RETRY, EmailConfig
from shared.state_machine.waits import WaitRecord, WaitSpec


class EmailNode(NodeType):
    #: The connection kind this node sends through.
    connection_kind: ClassVar[str]
    side_effects = True
    default_retry: ClassVar[RetryPolicy] = EMAIL_DEFAULT_RETRY

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, EmailConfig)
        config = call.config
        try:
            to = addresses(call, config.to, "to")
            cc = addresses(call, config.cc, "cc")
            bcc = addresses(call, config.bcc, "bcc")
            chosen = attachments(call, config)
        except BadEmail as e:
            return Failed(str(e), retryable=False)
        subject = str(call.render(config.subject))
        html = render_html(config.html, call) if config.html is not None else None
        text = str(call.render(config.text)) if config.text is not None else text_of(html or "")
        attempts_before, problem = await self._look_up(call, config.connection)
        if problem is not None:
            return Failed(problem, retryable=False)
        wait_id = uuid.uuid4()
        message = SendEmail(
            idempotency_key=call.idempotency_key,
            to=to,
            cc=cc,
            bcc=bcc,
            subject=subject,
            text=text,
            html=html,
            workspace_id=call.workspace_id,
            execution_id=call.execution_id,
            connection=config.connection,
            attachments=[attachment for attachment, _ in chosen],
            wait_id=wait_id,
        )
        summary = {
            "status": "sending",
            "to": to,
            "cc": cc,
            "bcc": bcc,
            "subject": subject,
            "attachments": [
                {"id": e["id"], "name": a.filename or e.get("name")} for a, e in chosen
            ],
        }
        spec = WaitSpec(
            kind="email",
            expires_at=utcnow() + timedelta(seconds=config.timeout_seconds),
            rule={
                "idempotency_key": call.idempotency_key,
                "attempts_before": attempts_before,
                "timeout_seconds": config.timeout_seconds,
                "summary": summary,
            },
            id=wait_id,
            # An e-mail a previous attempt of this node already sent decides the wait at once.
            settle_on_open=True,
        )
        return Wait(spec, output=summary, outbox=[(EMAIL, message)])

    async def _look_up(self, call: NodeCall, connection: str) -> tuple[int, str | None]:
        """(tries the key had before this attempt, a reason to fail now or None)."""
        engine = call.services.engine
        if engine is None:
            return 0, None
        async with engine.connect() as conn:
            kind = await conn.scalar(
                select(Connection.kind).where(
                    Connection.workspace_id == call.workspace_id, Connection.name == connection
                )
            )
            tries = await conn.scalar(
                select(EmailDelivery.attempts).where(
                    EmailDelivery.idempotency_key == call.idempotency_key
                )
            )
        if kind is None:
            return 0, f"no connection named {connection!r} in this workspace"
        if kind != self.connection_kind:
            return 0, (
                f"connection {connection!r} is a {kind} connection; "
                f"{self.type_name} needs a {self.connection_kind} one"
            )
        return int(tries or 0), None

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        row = (
            await conn.execute(
                select(
                    EmailDelivery.status,
                    EmailDelivery.attempts,
                    EmailDelivery.last_error,
                    EmailDelivery.message_id,
                    EmailDelivery.server_reply,
                    EmailDelivery.transport,
                    EmailDelivery.sent_at,
                ).where(EmailDelivery.idempotency_key == wait.rule["idempotency_key"])
            )
        ).first()
        if row is not None and row.status == "sent":
            return {
                "outcome": "sent",
                "message_id": row.message_id,
                "server_reply": row.server_reply,
                "transport": row.transport,
                "attempts": row.attempts,
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "note": row.last_error,
            }
        # A failure recorded before this wait opened belongs to an earlier attempt of the node.
        fresh = row is not None and row.attempts > int(wait.rule.get("attempts_before", 0))
        if row is not None and row.status == "failed" and fresh:
            return {"outcome": "failed", "error": row.last_error, "attempts": row.attempts}
        if reason == "expired":
            return {"outcome": "timed_out"}
        return None

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        decision = wait.decision or {}
        outcome = decision.get("outcome")
        if outcome == "sent":
            summary = dict(wait.rule.get("summary", {}))
            return Completed(output={**summary, **decision, "status": "sent"})
        if outcome == "failed":
            return Failed(f"the e-mail was not delivered: {decision.get('error')}")
        seconds = wait.rule.get("timeout_seconds")
        return Failed(f"the e-mail had no delivery outcome within {seconds} seconds")
