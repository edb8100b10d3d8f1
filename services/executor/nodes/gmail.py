from typing import ClassVar

from services.executor.nodes.email import EmailNode
from shared.nodes.email import GmailConfig


class GmailNode(EmailNode):
    """E-mail through an `smtp` connection (Gmail: STARTTLS on 587 with an app password)."""

    type_name: ClassVar[str] = "gmail"
    config_model = GmailConfig
    connection_kind: ClassVar[str] = "smtp"
