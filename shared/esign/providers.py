"""The provider clients over one HTTP session, configured from settings, behind one face:
create a request, read what an event (or a poll) means, fetch the signed file."""

from dataclasses import dataclass
from typing import Any

import aiohttp

from shared.esign import interpret
from shared.esign.clicksign import ClickSignClient
from shared.esign.model import Facts, SignedFile
from shared.esign.store import RequestRow
from shared.esign.zapsign import ZapSignClient
from shared.settings import Settings

Client = ClickSignClient | ZapSignClient


@dataclass(frozen=True)
class Observation:
    facts: Facts
    #: ZapSign: the document as just read, whose `signed_file` link is still fresh.
    document: dict[str, Any] | None = None


class Providers:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        timeout = settings.signature_http_timeout_seconds
        limit = settings.signature_max_document_bytes
        self.clicksign = ClickSignClient(
            http,
            base_url=settings.clicksign_base_url,
            token=settings.clicksign_access_token,
            timeout=timeout,
            max_bytes=limit,
        )
        self.zapsign = ZapSignClient(
            http,
            base_url=settings.zapsign_base_url,
            token=settings.zapsign_api_token,
            timeout=timeout,
            max_bytes=limit,
        )

    def client(self, provider: str) -> Client:
        return self.clicksign if provider == "clicksign" else self.zapsign

    async def observe_event(self, provider: str, payload: dict[str, Any]) -> Observation:
        """What a stored webhook means. ZapSign's is unsigned, so its document is re-read and
        only that answer is believed (the event names the document by its token)."""
        if provider == "clicksign":
            return Observation(interpret.clicksign_event(payload))
        document = await self.zapsign.document(str(payload.get("token") or ""))
        event_type = payload.get("event_type")
        return Observation(
            interpret.zapsign_document(document, str(event_type) if event_type else None),
            document,
        )

    async def poll(self, request: RequestRow) -> Observation:
        """The request as the provider has it now (for a request whose webhooks went quiet)."""
        assert request.provider_request_id is not None
        if request.provider == "clicksign":
            envelope = await self.clicksign.envelope(request.provider_request_id)
            return Observation(interpret.clicksign_envelope(envelope))
        document = await self.zapsign.document(request.provider_request_id)
        return Observation(interpret.zapsign_document(document), document)

    async def signed_file(
        self, request: RequestRow, observation: Observation | None
    ) -> SignedFile | None:
        if request.provider == "clicksign":
            if request.provider_request_id is None or request.provider_document_id is None:
                return None
            return await self.clicksign.signed_file(
                request.provider_request_id, request.provider_document_id
            )
        document = observation.document if observation is not None else None
        if document is None or not document.get("signed_file"):
            assert request.provider_request_id is not None
            document = await self.zapsign.document(request.provider_request_id)
        return await self.zapsign.signed_file(document)
