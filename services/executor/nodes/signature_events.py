"""The `signatures.events` consumer: apply a verified provider webhook, then try the wait.

The gateway only verified and stored the event; here it is read (ZapSign's document is re-read
from ZapSign first, since its webhooks are unsigned), applied to the signer rows, the signed
file fetched if the request just finished, and the wait offered a decision. Everything is
idempotent, so a redelivered message repeats harmlessly.
"""

import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.tables import InboxEvent
from shared.esign import store
from shared.esign.errors import ProviderError
from shared.esign.providers import Providers
from shared.esign.sync import apply_observation, collect_signed_document
from shared.messages import Message, SignatureEvent
from shared.settings import Settings

log = structlog.get_logger(__name__)

Resume = Callable[[uuid.UUID, uuid.UUID, str], Awaitable[None]]


class SignatureEvents:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        settings: Settings,
        resume: Resume,
    ) -> None:
        self._engine = engine
        self._providers = Providers(settings, http)
        self._resume = resume

    async def on_message(self, message: Message) -> None:
        if not isinstance(message, SignatureEvent):
            log.warning("message_ignored", message_type=getattr(message, "type", None))
            return
        async with self._engine.connect() as conn:
            inbox = (
                await conn.execute(
                    select(InboxEvent.payload, InboxEvent.processed_at).where(
                        InboxEvent.id == message.inbox_id
                    )
                )
            ).first()
            applied = inbox is not None and inbox.processed_at is not None
            request = await store.load(conn, message.request_id) if applied else None
        if inbox is None:
            log.warning("signature_event_unknown", inbox_id=message.inbox_id)
            return
        if request is None:
            try:
                observation = await self._providers.observe_event(message.provider, inbox.payload)
            except ProviderError as e:
                if e.retryable:
                    raise  # redelivered; reconciliation polls the request if all fail
                log.warning("signature_event_unreadable", error=str(e))
                return
            request = await apply_observation(
                self._engine, self._providers, message.request_id, observation,
                inbox_id=message.inbox_id,
            )  # fmt: skip
        else:
            # Applied already (a redelivery): only the signed file or the resume may be missing.
            request = await collect_signed_document(self._engine, self._providers, request)
        with structlog.contextvars.bound_contextvars(
            execution_id=str(request.execution_id), node_id=request.node_id
        ):
            log.info("signature_event_applied", provider=message.provider, status=request.status)
            await self._resume(request.execution_id, request.wait_id, "fact")
