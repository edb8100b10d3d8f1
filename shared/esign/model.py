"""What DocFlow asks of a provider, and what a provider tells DocFlow (facts)."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RequestStatus(StrEnum):
    #: The row exists; the provider request is being set up (a crash here is resumed).
    CREATING = "creating"
    #: Sent to the signers; waiting for them.
    PENDING = "pending"
    #: The rule over signers is met.
    SIGNED = "signed"
    #: A refusal made the rule impossible to meet.
    REFUSED = "refused"
    #: The deadline passed (ours, or the provider's) before the rule was met.
    EXPIRED = "expired"
    #: Cancelled at the provider before the rule was met.
    CANCELLED = "cancelled"
    #: Closed by hand at the provider before the rule was met: finished without the signatures
    #: it needed, so never `signed`.
    CLOSED = "closed"


FINAL_REQUEST_STATUSES = frozenset(
    {
        RequestStatus.SIGNED,
        RequestStatus.REFUSED,
        RequestStatus.EXPIRED,
        RequestStatus.CANCELLED,
        RequestStatus.CLOSED,
    }
)
#: A re-run with the same idempotency key reuses a request in these; any other starts anew.
REUSABLE_REQUEST_STATUSES = frozenset(
    {RequestStatus.CREATING, RequestStatus.PENDING, RequestStatus.SIGNED}
)


class SignerStatus(StrEnum):
    PENDING = "pending"
    SIGNED = "signed"
    REFUSED = "refused"


@dataclass(frozen=True)
class SignerSpec:
    position: int
    name: str
    email: str
    #: National number, digits only (ClickSign's `phone_number`, ZapSign's `phone_number`).
    phone: str | None = None
    #: Country calling code without `+` (ZapSign's `phone_country`).
    phone_country: str = "55"
    #: email | sms | whatsapp | none: how the signer proves who they are.
    auth: str = "email"
    #: Signing order (1 first) when the node asks for ordered signing; None: any order.
    group: int | None = None


@dataclass(frozen=True)
class DocumentFile:
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class RequestSpec:
    """One provider request, as the node rendered it."""

    #: `{execution_id}:{node_id}`: ZapSign's external_id, part of ClickSign's envelope name.
    idempotency_key: str
    title: str
    signers: tuple[SignerSpec, ...]
    expires_at: datetime | None = None
    ordered: bool = False
    message: str | None = None
    locale: str = "pt-BR"
    #: A refusal blocks the others from signing (ClickSign `block_after_refusal`); only for
    #: rule `all`, where one refusal decides anyway.
    stop_on_refusal: bool = True


@dataclass
class CreationState:
    """What is already set up at the provider, as recorded; creation resumes from here."""

    provider_request_id: str | None = None
    provider_document_id: str | None = None
    #: Provider signer id by signer position.
    signer_ids: dict[int, str] = field(default_factory=dict)
    #: Setup steps done (ClickSign: requirements per signer, activated, notified).
    progress: dict[str, object] = field(default_factory=dict)


class Journal:
    """Records each step of creating a request as soon as the provider answered it, so a
    crash between two steps never repeats one that reached the provider."""

    def __init__(
        self,
        state: CreationState,
        save: Callable[[CreationState], Awaitable[None]],
    ) -> None:
        self.state = state
        self._save = save

    async def record(
        self,
        *,
        provider_request_id: str | None = None,
        provider_document_id: str | None = None,
        signer_ids: dict[int, str] | None = None,
        progress: dict[str, object] | None = None,
    ) -> None:
        if provider_request_id is not None:
            self.state.provider_request_id = provider_request_id
        if provider_document_id is not None:
            self.state.provider_document_id = provider_document_id
        if signer_ids:
            self.state.signer_ids.update(signer_ids)
        if progress:
            self.state.progress.update(progress)
        await self._save(self.state)


@dataclass(frozen=True)
class SignerFact:
    """One signer's act, as the provider reported it. Matched by provider id, then e-mail."""

    status: SignerStatus
    provider_signer_id: str | None = None
    email: str | None = None
    at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Facts:
    """What one event (or one poll) says about a request."""

    signers: tuple[SignerFact, ...] = ()
    #: Every signer has signed (ClickSign `auto_close`, a finished ZapSign document).
    all_signed: bool = False
    #: The provider ended the request: refused | cancelled | expired | closed (by hand) |
    #: finished (closed, by itself or by hand: a polled envelope cannot tell), or None.
    ended: str | None = None
    reason: str | None = None
    at: datetime | None = None
    #: A link to the signed file, when the provider gave one (ZapSign's expires in an hour).
    signed_file_url: str | None = None
    #: The signed file can be fetched now (ClickSign `document_closed`, `auto_close`, `close`).
    document_ready: bool = False


@dataclass(frozen=True)
class SignedDocumentInfo:
    """A stored signed file, without its bytes: what the context and the API show of it."""

    id: uuid.UUID
    request_id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "signature_request_id": str(self.request_id),
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size_bytes,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class SignedFile:
    filename: str
    content: bytes
    content_type: str
    source_url: str | None


def parse_time(value: object) -> datetime | None:
    """Provider timestamps (ISO-8601 with an offset); None for missing or unreadable ones."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
