"""SMTP delivery with aiosmtplib, and which server answers are worth another try.

The rule: trouble with the session (connecting, greeting, STARTTLS, AUTH) is ours to fix and
never the message's fault, so it is transient and the message waits in the queue (and in the
dead-letter queue after the delivery limit). A refusal of this message (MAIL, RCPT, DATA) is
permanent on 5xx and transient on 4xx, as RFC 5321 means them.
"""

from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib
import structlog

from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from shared.settings import Settings

log = structlog.get_logger(__name__)

#: Bounds one delivery: the delivery row stays locked meanwhile (see deliveries.py).
SMTP_TIMEOUT_SECONDS = 20.0

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
    delivered_outcome = "sent"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, email: EmailMessage, recipients: Sequence[str]) -> str | None:
        s = self._settings
        try:
            refused, _ = await aiosmtplib.send(
                email,
                sender=s.smtp_from,
                recipients=list(recipients),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_starttls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except _SESSION_ERRORS as e:
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
        if refused:
            # The others got it; a re-send would duplicate it for them, so this is recorded.
            note = "; ".join(f"{address}: {r.code} {r.message}" for address, r in refused.items())
            log.warning("smtp_recipients_refused", refused=note)
            return f"some recipients refused: {note}"
        return None
