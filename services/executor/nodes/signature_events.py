"""The `signatures.events` consumer: apply a verified provider webhook, then try the wait.

The gateway only verified and stored the event (the message carries it too); here it is read
(ZapSign's document is re-read from ZapSign first, since its webhooks are unsigned), applied to
the signer rows, the signed file fetched if the request just finished, and the wait offered a
decision. Everything is idempotent, so a redelivered message repeats harmlessly.
"""

import uuid
from datetime import datetime
from typing import Protocol

import aiohttp
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker.base import GiveUp
from shared.esign import store
from shared.esign.errors import ProviderError
from shared.esign.providers import Providers
from shared.esign.sync import apply_observation
from shared.logging import log_context
from shared.messages import Message, ResumeExecution, SignatureEvent
from shared.settings import Settings

log = structlog.get_logger(__name__)


class Resume(Protocol):
    async def __call__(
        self,
        execution_id: uuid.UUID,
        wait_id: uuid.UUID,
        reason: str,
        *,
        requested_at: datetime | None = None,
    ) -> None: ...


class SignatureEvents:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        settings: Settings,
        resume: Resume,
        give_up: GiveUp,
    ) -> None:
        self._engine = engine
        self._providers = Providers(settings, http, engine)
        self._resume = resume
        self._give_up = give_up

    async def give_up(self, message: Message, error: Exception) -> None:
        """The event failed on every delivery: its run is failed with the reason, as a resume
        that no executor could apply is, while its wait is still the open one. Otherwise the
        request would wait, unseen, on a fact that was dead-lettered."""
        if not isinstance(message, SignatureEvent):
            return
        async with self._engine.connect() as conn:
            request = await store.load(conn, message.request_id)
        if request is None:
            return
        resume = ResumeExecution(
            execution_id=request.execution_id, wait_id=request.wait_id, reason="fact"
        )
        await self._give_up(resume, error)

    async def on_message(self, message: Message) -> None:
        if not isinstance(message, SignatureEvent):
            log.warning("message_ignored", message_type=getattr(message, "type", None))
            return
        try:
            observation = await self._providers.observe_event(
                message.provider, message.request_id, message.payload
            )
        except ProviderError as e:
            if e.retryable:
                raise  # redelivered; reconciliation polls the request if all fail
            log.warning("signature_event_unreadable", error=str(e))
            return
        # Marks the inbox row processed; a redelivery finds it so and applies nothing again,
        # but still fetches a signed file that is due and offers the wait its decision.
        request = await apply_observation(
            self._engine, self._providers, message.request_id, observation,
            inbox_id=message.inbox_id,
        )  # fmt: skip
        with log_context(execution_id=str(request.execution_id), node_id=request.node_id):
            log.info("signature_event_applied", provider=message.provider, status=request.status)
            await self._resume(
                request.execution_id, request.wait_id, "fact", requested_at=message.received_at
            )
