"""Approval e-mails: the link's token is minted here, just before the e-mail is sent.

Only its SHA-256 is written, and committed before the send (Notifier.send), so a raw token
exists nowhere but in the e-mail itself: not in the outbox, the broker, or `email_deliveries`,
and the link works from the moment the e-mail arrives, even if the process dies before it
records the send. If the send fails, the token is in no e-mail and opens nothing anyone knows
of; the redelivered message mints another one.
"""

from collections.abc import Awaitable, Callable
from functools import lru_cache

import jinja2
import structlog
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.approval_gates import GateView, load_gate
from shared.approval_links import approval_link, mint_token, token_hash
from shared.db.tables import Approval, ApprovalToken
from shared.db.types import utcnow
from shared.messages import ApprovalEmail, SendEmail
from shared.runtime import Resources

log = structlog.get_logger(__name__)

#: Turns the envelope into the e-mail to send, in a transaction committed before the send.
Prepare = Callable[[AsyncSession], Awaitable[SendEmail]]
Send = Callable[[SendEmail, Prepare], Awaitable[str]]

_SUBJECT_PREFIX = {"request": "", "reminder": "Reminder: ", "resend": "New link: "}


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    # Built on first use, not at import time; HTML templates escape, text ones do not.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("services.notifier", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_bodies(gate: GateView, link: str, purpose: str) -> tuple[str, str]:
    """(text, html) of one approver's e-mail."""
    values = {"gate": gate, "link": link, "purpose": purpose, "rule": gate.rule}
    env = _templates()
    return (
        env.get_template("approval_email.txt.j2").render(values),
        env.get_template("approval_email.html.j2").render(values),
    )


class ApprovalMailer:
    def __init__(self, resources: Resources, send: Send) -> None:
        self._resources = resources
        self._send = send

    async def send(self, message: ApprovalEmail) -> str:
        """Mail a fresh link unless the approver no longer needs one; returns the outcome."""
        async with self._resources.sessions() as session:
            gate = await load_gate(session, message.approval_id)
        if (
            gate is None
            or gate.status != "pending"
            or gate.wait_status != "open"
            or gate.expired(utcnow())
        ):
            log.info("approval_email_skipped", approval_id=str(message.approval_id))
            return "skipped"
        envelope = SendEmail(
            idempotency_key=message.idempotency_key,
            to=[gate.email],
            subject=_SUBJECT_PREFIX[message.purpose] + gate.subject,
            text="",
            workspace_id=gate.workspace_id,
            execution_id=gate.execution_id,
        )
        public_url = self._resources.settings.public_url

        async def prepare(session: AsyncSession) -> SendEmail:
            now = utcnow()
            token = mint_token()
            if message.purpose == "resend":
                # Covers a link minted after the gateway revoked the old ones.
                await session.execute(
                    update(ApprovalToken)
                    .where(
                        ApprovalToken.approval_id == gate.approval_id,
                        ApprovalToken.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                )
            await session.execute(
                insert(ApprovalToken).values(
                    token_hash=token_hash(token), approval_id=gate.approval_id, created_at=now
                )
            )
            await session.execute(
                update(Approval).where(Approval.id == gate.approval_id).values(notified_at=now)
            )
            text, html = render_bodies(gate, approval_link(public_url, token), message.purpose)
            return envelope.model_copy(update={"text": text, "html": html})

        return await self._send(envelope, prepare)
