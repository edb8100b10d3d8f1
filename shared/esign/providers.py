"""The provider clients over one HTTP session behind one face: create a request, read what an
event (or a poll) means, fetch the signed file, cancel. Each request is served by the account it
was made with (shared/esign/accounts.py): the settings' one, or its workspace connection's."""

import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.connections.crypto import Sealer
from shared.errors import DocflowError
from shared.esign import interpret, store
from shared.esign.accounts import Account, connection_account, settings_account
from shared.esign.clicksign import ClickSignClient
from shared.esign.errors import ProviderError
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
    def __init__(
        self, settings: Settings, http: aiohttp.ClientSession, engine: AsyncEngine | None = None
    ) -> None:
        self._settings = settings
        self._http = http
        #: Reads the connection of a workspace's request; without it only the settings account.
        self._engine = engine

    def client(self, account: Account) -> Client:
        settings = self._settings
        kind = ClickSignClient if account.provider == "clicksign" else ZapSignClient
        return kind(
            self._http,
            base_url=account.base_url,
            token=account.token,
            timeout=settings.signature_http_timeout_seconds,
            max_bytes=settings.signature_max_document_bytes,
            credential=account.credential,
        )

    async def account_of(self, request: RequestRow) -> Account:
        """The account the request was made with; ProviderError (not retryable) when its
        connection is gone or unreadable — never the settings account instead."""
        if request.connection_id is None:
            return settings_account(self._settings, request.provider)
        if self._engine is None:
            raise ProviderError("no database to read the request's connection", retryable=False)
        try:
            sealer = Sealer(self._settings.secret_key)
            async with self._engine.connect() as conn:
                found = await connection_account(
                    conn,
                    sealer,
                    connection_id=request.connection_id,
                    workspace_id=request.workspace_id,
                )
        except DocflowError as e:
            raise ProviderError(f"the request's connection: {e}", retryable=False) from e
        if found is None or found.account.provider != request.provider:
            raise ProviderError(
                f"the {request.provider} connection {request.connection_id} of this request "
                "no longer exists",
                retryable=False,
            )
        return found.account

    async def client_for(self, request: RequestRow) -> Client:
        return self.client(await self.account_of(request))

    async def observe_event(
        self, provider: str, request_id: uuid.UUID, payload: dict[str, Any]
    ) -> Observation:
        """What a stored webhook means. ZapSign's is unsigned, so its document is re-read, from
        the request's own account, and only that answer is believed (the event names the
        document by its token)."""
        if provider == "clicksign":
            return Observation(interpret.clicksign_event(payload))
        if self._engine is None:
            raise ProviderError("no database to read the request", retryable=False)
        async with self._engine.connect() as conn:
            request = await store.load(conn, request_id)
        if request is None:
            raise ProviderError(f"signature request {request_id} not found", retryable=False)
        client = await self.client_for(request)
        assert isinstance(client, ZapSignClient)
        document = await client.document(str(payload.get("token") or ""))
        event_type = payload.get("event_type")
        return Observation(
            interpret.zapsign_document(document, str(event_type) if event_type else None),
            document,
        )

    async def poll(self, request: RequestRow) -> Observation:
        """The request as the provider has it now (for a request whose webhooks went quiet)."""
        assert request.provider_request_id is not None
        client = await self.client_for(request)
        if isinstance(client, ClickSignClient):
            envelope = await client.envelope(request.provider_request_id)
            return Observation(interpret.clicksign_envelope(envelope))
        document = await client.document(request.provider_request_id)
        return Observation(interpret.zapsign_document(document), document)

    async def signed_file(
        self, request: RequestRow, observation: Observation | None
    ) -> SignedFile | None:
        client = await self.client_for(request)
        if isinstance(client, ClickSignClient):
            if request.provider_request_id is None or request.provider_document_id is None:
                return None
            return await client.signed_file(
                request.provider_request_id, request.provider_document_id
            )
        document = observation.document if observation is not None else None
        if document is None or not document.get("signed_file"):
            assert request.provider_request_id is not None
            document = await client.document(request.provider_request_id)
        return await client.signed_file(document)

    async def cancel(self, request: RequestRow, reason: str) -> dict[str, Any]:
        """Cancel the request at its provider, through its own account; the provider's answer.
        ProviderError when it refused (a 4xx: already signed, closed, cancelled) or could not
        answer (retryable)."""
        assert request.provider_request_id is not None
        assert request.provider_document_id is not None
        client = await self.client_for(request)
        if isinstance(client, ClickSignClient):
            # ClickSign documents cancelling one document of an envelope; ours has one.
            return await client.cancel(request.provider_request_id, request.provider_document_id)
        return await client.cancel(request.provider_request_id, reason)
