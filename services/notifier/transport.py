"""How an e-mail leaves: through the workspace connection it names (SMTP or Microsoft Graph),
or DocFlow's own SMTP server, or the console when none is configured (`docflow dev`)."""

import ssl
from typing import Protocol

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.attachments import load_attachments
from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from services.notifier.graph import GraphTransport
from services.notifier.graph_auth import GraphTokens
from services.notifier.outgoing import Outgoing, Receipt
from services.notifier.smtp import SmtpTransport
from shared.connections import load_connection
from shared.connections.crypto import Sealer, SecretKeyMissing, SecretUnreadable
from shared.connections.kinds import MicrosoftConnection, SmtpConnection
from shared.connections.store import WrongConnectionKind
from shared.db.tables import Connection
from shared.egress import EgressPolicy, egress_session
from shared.errors import NotFound
from shared.messages import SendEmail
from shared.settings import Settings


class Transport(Protocol):
    #: smtp | graph | console, recorded on the delivery row.
    name: str
    #: The metrics outcome for an e-mail this transport delivered.
    delivered_outcome: str

    async def send(self, outgoing: Outgoing) -> Receipt:
        """Deliver, or raise TransientDeliveryError / PermanentDeliveryError."""
        ...


def create_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport.from_settings(settings)
    from services.notifier.console import ConsoleTransport

    return ConsoleTransport()


class Transports:
    """Picks each e-mail's transport. Holds what outlives one e-mail: the HTTP session and
    Graph's tokens (opened in `open`, closed in `close`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        default: Transport | None = None,
        smtp_tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._default = default or create_transport(settings)
        #: Trust for connection SMTP servers; None means the system's CAs.
        self._smtp_tls_context = smtp_tls_context
        self._egress = EgressPolicy.parse(settings.egress_allow)
        self._http: aiohttp.ClientSession | None = None
        self._tokens: GraphTokens | None = None

    @property
    def default(self) -> Transport:
        return self._default

    async def open(self) -> None:
        if self._http is None:
            self._http = egress_session(self._settings)
            self._tokens = GraphTokens(self._http)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http, self._tokens = None, None

    async def prepare(
        self, session: AsyncSession, message: SendEmail
    ) -> tuple[Transport, Outgoing]:
        """The transport and what it sends: sender, bodies and the attachments' bytes."""
        attachments = await load_attachments(session, message)
        if message.connection is None:
            return self._default, Outgoing(message, self._settings.smtp_from, attachments)
        config = await self._connection(session, message)
        if isinstance(config, SmtpConnection):
            transport = SmtpTransport.from_connection(
                config, self._smtp_tls_context, egress=self._egress
            )
            return transport, Outgoing(message, config.from_address, attachments)
        assert self._http is not None and self._tokens is not None, "Transports.open() first"
        graph = GraphTransport(
            config, self._http, self._tokens,
            inline_limit=self._settings.graph_inline_attachment_bytes,
        )  # fmt: skip
        return graph, Outgoing(message, config.user or "", attachments)

    async def _connection(
        self, session: AsyncSession, message: SendEmail
    ) -> SmtpConnection | MicrosoftConnection:
        assert message.connection is not None
        if message.workspace_id is None:
            raise PermanentDeliveryError("an e-mail through a connection needs its workspace")
        kind = await session.scalar(
            select(Connection.kind).where(
                Connection.workspace_id == message.workspace_id,
                Connection.name == message.connection,
            )
        )
        expected: type[SmtpConnection] | type[MicrosoftConnection] | None = (
            SmtpConnection
            if kind == "smtp"
            else MicrosoftConnection
            if kind == "microsoft"
            else None
        )
        if expected is None:
            what = "no connection" if kind is None else f"a {kind} connection"
            raise PermanentDeliveryError(
                f"{message.connection!r} is {what}; e-mail needs an smtp or microsoft one"
            )
        try:
            sealer = Sealer(self._settings.secret_key)
            config: SmtpConnection | MicrosoftConnection = await load_connection(
                session, sealer, message.workspace_id, message.connection, expected
            )
        except (SecretKeyMissing, SecretUnreadable) as e:
            # Our own set-up, never the e-mail's fault: worth trying again once it is fixed.
            raise TransientDeliveryError(str(e)) from e
        except (NotFound, WrongConnectionKind) as e:  # deleted or replaced meanwhile
            raise PermanentDeliveryError(str(e)) from e
        return config
