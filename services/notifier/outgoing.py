"""What a transport is handed to send, and what it answers."""

from dataclasses import dataclass, field
from email.message import EmailMessage

from services.notifier.message import Attachment, compose, envelope_recipients
from shared.messages import SendEmail


@dataclass(frozen=True)
class Outgoing:
    message: SendEmail
    #: The From address (the connection's, or DOCFLOW_SMTP_FROM).
    sender: str
    attachments: list[Attachment] = field(default_factory=list)

    def mime(self) -> EmailMessage:
        """The RFC 5322 e-mail, for SMTP and the console; raises PermanentDeliveryError."""
        return compose(self.message, sender=self.sender, attachments=self.attachments)

    @property
    def recipients(self) -> list[str]:
        return envelope_recipients(self.message)


@dataclass(frozen=True)
class Receipt:
    """The server took the e-mail: its answer, and a note worth recording (recipients it
    refused while it accepted the others)."""

    reply: str
    note: str | None = None
