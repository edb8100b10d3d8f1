"""One step shared by the executor (after a webhook) and the scheduler (after a poll): apply
what the provider said, then fetch the signed file at once if the request is finished."""

import uuid
from dataclasses import replace

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.esign.apply import apply_facts
from shared.esign.documents import store_signed
from shared.esign.errors import ProviderError
from shared.esign.model import RequestStatus
from shared.esign.providers import Observation, Providers
from shared.esign.store import RequestRow

log = structlog.get_logger(__name__)


async def apply_observation(
    engine: AsyncEngine,
    providers: Providers,
    request_id: uuid.UUID,
    observation: Observation,
    *,
    inbox_id: int | None = None,
) -> RequestRow:
    async with engine.begin() as conn:
        request = await apply_facts(conn, request_id, observation.facts, inbox_id=inbox_id)
    return await collect_signed_document(engine, providers, request, observation)


def needs_signed_document(request: RequestRow) -> bool:
    return (
        request.status == RequestStatus.SIGNED
        and request.provider_done
        and request.signed_document_id is None
    )


async def collect_signed_document(
    engine: AsyncEngine,
    providers: Providers,
    request: RequestRow,
    observation: Observation | None = None,
) -> RequestRow:
    """Download and keep the signed file when it is due; a provider that has not produced it
    yet (or fails) leaves it for the next event or poll."""
    if not needs_signed_document(request):
        return request
    try:
        file = await providers.signed_file(request, observation)
    except ProviderError as e:
        log.warning("signed_document_deferred", request_id=str(request.id), error=str(e))
        return request
    if file is None:
        log.info("signed_document_not_ready", request_id=str(request.id))
        return request
    stored = await store_signed(engine, request, file)
    log.info("signed_document_stored", request_id=str(request.id), bytes=len(file.content))
    return replace(request, signed_document=stored)
