from typing import ClassVar

from services.executor.nodes.email import EmailNode
from shared.nodes.email import OutlookConfig


class OutlookNode(EmailNode):
    """E-mail through a `microsoft` connection: Graph `sendMail` as the connection's user."""

    type_name: ClassVar[str] = "outlook"
    config_model = OutlookConfig
    connection_kind: ClassVar[str] = "microsoft"
