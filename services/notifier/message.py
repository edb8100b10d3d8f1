"""From a `SendEmail` message to an RFC 5322 e-mail."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from services.notifier.errors import PermanentDeliveryError
from shared.db.types import utcnow
from shared.messages import SendEmail


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


def message_id_for(idempotency_key: str) -> str:
    """Derived from the key, so a re-send after a crash carries the same Message-ID and
    mail clients can tell it is the same e-mail."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@docflow>"


def envelope_recipients(message: SendEmail) -> list[str]:
    """Everyone the server delivers to; Bcc is here and never in a header."""
    return list(dict.fromkeys([*message.to, *message.cc, *message.bcc]))


def compose(
    message: SendEmail, *, sender: str, attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    """Text, plus HTML as an alternative when given, then the attachments. Raises
    PermanentDeliveryError for a message no server could take (no recipient, a header with a
    line break)."""
    if not envelope_recipients(message):
        raise PermanentDeliveryError("the e-mail has no recipients")
    email = EmailMessage()
    try:
        email["From"] = sender
        email["To"] = ", ".join(message.to)
        if message.cc:
            email["Cc"] = ", ".join(message.cc)
        email["Subject"] = message.subject
        email["Message-ID"] = message_id_for(message.idempotency_key)
        email["Date"] = format_datetime(utcnow())
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        for attachment in attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            email.add_attachment(
                attachment.content,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
    except ValueError as e:  # the email package refuses header injection and malformed values
        raise PermanentDeliveryError(f"the e-mail cannot be built: {e}") from e
    return email
