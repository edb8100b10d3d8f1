"""What the signature routes answer, as the OpenAPI document shows it (requests.py and
webhooks.py build the answers; these models describe them)."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

#: shared.esign.webhooks.PROVIDERS, as a type the document can show.
Provider = Literal["clicksign", "zapsign"]


class Signer(BaseModel):
    position: int
    name: str
    email: str
    status: Literal["pending", "signed", "refused"]
    acted_at: datetime | None
    reason: str | None
    provider_signer_id: str | None = None


class SignedDocument(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str


class Cancellation(BaseModel):
    """Cancelling it at the provider, once its run ended while it was open."""

    requested_at: datetime
    outcome: Literal["cancelled", "refused", "gave_up", "nothing_to_cancel"] | None
    cancelled_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    answer: dict[str, Any] | None


class SignatureRequest(BaseModel):
    id: uuid.UUID
    node_id: str
    provider: Provider
    generation: int
    status: Literal["creating", "pending", "signed", "refused", "expired", "cancelled", "closed"]
    rule: dict[str, Any]
    title: str
    #: ClickSign's envelope id; ZapSign's document token.
    provider_request_id: str | None
    #: The key the provider's webhooks name: ClickSign's document key, ZapSign's token.
    provider_document_id: str | None
    reason: str | None
    expires_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    connection_id: uuid.UUID | None
    cancellation: Cancellation | None
    signers: list[Signer]
    signed_document: SignedDocument | None


class SignatureEventAnswer(BaseModel):
    status: Literal["accepted", "duplicate", "unknown"]
    event: str
