"""SMTP delivery with aiosmtplib, and which server answers are worth another try.

The rule: trouble with the session (connecting, greeting, STARTTLS, AUTH) is ours to fix and
never the message's fault, so it is transient and the message waits in the queue (and in the
dead-letter queue after the delivery limit). A refusal of this message (MAIL, RCPT, DATA) is
permanent on 5xx and transient on 4xx, as RFC 5321 means them.
"""

import ssl
from collections.abc import Sequence
from typing import Any

import aiosmtplib
import structlog

from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from services.notifier.outgoing import Outgoing, Receipt
from shared.connections.kinds import SmtpConnection
from shared.egress import EgressPolicy, EgressRefused
from shared.egress.sockets import open_checked_socket
from shared.settings import Settings

log = structlog.get_logger(__name__)

#: Bounds one delivery: the delivery row stays locked meanwhile (see deliveries.py).
SMTP_TIMEOUT_SECONDS = 20.0
IMPLICIT_TLS_PORT = 465

_SESSION_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPNotSupported,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
)


def _by_code(code: int, reason: str) -> TransientDeliveryError | PermanentDeliveryError:
    if 500 <= code < 600:
        return PermanentDeliveryError(reason)
    return TransientDeliveryError(reason)


def _refusals(refused: Sequence[aiosmtplib.SMTPRecipientRefused]) -> str:
    return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refused)


class SmtpTransport:
    """One SMTP server: DocFlow's own (settings) or a workspace's (a `smtp` connection, e.g.
    Gmail on port 587 with STARTTLS and an app password)."""

    name = "smtp"
    delivered_outcome = "sent"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        starttls: bool,
        tls_context: ssl.SSLContext | None = None,
        egress: EgressPolicy | None = None,
    ) -> None:
        self._host, self._port = host, port
        #: A workspace's server is reached through the egress policy; DocFlow's own (settings)
        #: is the operator's choice and is not.
        self._egress = egress
        self._username, self._password = username or None, password or None
        self._starttls = starttls
        self._tls_context = tls_context

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpTransport":
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    @classmethod
    def from_connection(
        cls,
        connection: SmtpConnection,
        tls_context: ssl.SSLContext | None = None,
        *,
        egress: EgressPolicy,
    ) -> "SmtpTransport":
        return cls(
            host=connection.host,
            port=connection.port,
            username=connection.username,
            password=connection.password,
            starttls=connection.starttls,
            tls_context=tls_context,
            egress=egress,
        )

    async def send(self, outgoing: Outgoing) -> Receipt:
        email = outgoing.mime()
        where: dict[str, Any] = {}
        try:
            where = await self._where()
            refused, reply = await aiosmtplib.send(
                email,
                sender=outgoing.sender,
                recipients=outgoing.recipients,
                hostname=self._host,
                **where,
                username=self._username,
                password=self._password,
                # Port 465 speaks TLS from the first byte; the others upgrade with STARTTLS.
                use_tls=self._port == IMPLICIT_TLS_PORT,
                start_tls=self._starttls if self._port != IMPLICIT_TLS_PORT else False,
                tls_context=self._tls_context,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except EgressRefused as e:
            raise PermanentDeliveryError(str(e)) from e
        except _SESSION_ERRORS as e:
            if isinstance(e, aiosmtplib.SMTPConnectError) and "sock" in where:
                # Never taken over by a transport; once it is, closing the transport closes it
                # (closing it here too would cut a TLS shutdown short).
                where["sock"].close()
            raise TransientDeliveryError(f"{type(e).__name__}: {e}") from e
        except aiosmtplib.SMTPRecipientsRefused as e:
            # Every recipient was refused; any 4xx among them makes a later try worthwhile.
            reason = _refusals(e.recipients)
            if all(500 <= r.code < 600 for r in e.recipients):
                raise PermanentDeliveryError(reason) from e
            raise TransientDeliveryError(reason) from e
        except aiosmtplib.SMTPResponseException as e:
            raise _by_code(e.code, f"{e.code} {e.message}") from e
        except (aiosmtplib.SMTPException, OSError) as e:
            raise TransientDeliveryError(f"{type(e).__name__}: {e}") from e
        answer = f"250 {reply}"
        if refused:
            # The others got it; a re-send would duplicate it for them, so this is recorded.
            note = "; ".join(f"{address}: {r.code} {r.message}" for address, r in refused.items())
            log.warning("smtp_recipients_refused", refused=note)
            return Receipt(answer, f"some recipients refused: {note}")
        return Receipt(answer)

    async def _where(self) -> dict[str, Any]:
        """`port`, or a socket connected through the egress policy (aiosmtplib then takes the
        host name only for TLS)."""
        if self._egress is None:
            return {"port": self._port}
        sock = await open_checked_socket(
            self._egress, self._host, self._port, timeout_seconds=SMTP_TIMEOUT_SECONDS
        )
        return {"sock": sock}
