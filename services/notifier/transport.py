"""How an e-mail leaves: SMTP when a server is configured, the console otherwise."""

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

from shared.settings import Settings


class Transport(Protocol):
    #: The metrics outcome for an e-mail this transport delivered.
    delivered_outcome: str

    async def send(self, email: EmailMessage, recipients: Sequence[str]) -> str | None:
        """Deliver, or raise TransientDeliveryError / PermanentDeliveryError.

        Returns a note worth recording (recipients the server refused while accepting others).
        """
        ...


def create_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        from services.notifier.smtp import SmtpTransport

        return SmtpTransport(settings)
    from services.notifier.console import ConsoleTransport

    return ConsoleTransport()
