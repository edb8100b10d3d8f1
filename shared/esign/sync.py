"""One step shared by the executor (after a webhook) and the scheduler (after a poll): apply
what the provider said, then fetch the signed file at once if the request is finished."""

import asyncio
import uuid
from dataclasses import replace

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.esign.apply import apply_facts
from shared.esign.documents import store_signed
from shared.esign.errors import ProviderError
from shared.esign.model import RequestStatus, SignedFile
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
    fetching: asyncio.Task[SignedFile | None] | None = None

    def fetch_if_due(request: RequestRow) -> None:
        # The last signature: the signed file is asked for while the transaction writes and
        # commits (two round trips), not after. Only an HTTP call overlaps the transaction;
        # the file is stored after the commit, and nothing waits for the provider with the
        # transaction open.
        nonlocal fetching
        if needs_signed_document(request):
            fetching = asyncio.create_task(providers.signed_file(request, observation))

    try:
        async with engine.begin() as conn:
            request = await apply_facts(
                conn, request_id, observation.facts, inbox_id=inbox_id, worked_out=fetch_if_due
            )
    except BaseException:
        if fetching is not None:
            _drop(fetching)
        raise
    return await collect_signed_document(engine, providers, request, observation, fetching)


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
    fetching: asyncio.Task[SignedFile | None] | None = None,
) -> RequestRow:
    """Download and keep the signed file when it is due (or take the download `fetching`
    already started); a provider that has not produced it yet (or fails) leaves it for the next
    event or poll."""
    if not needs_signed_document(request):
        if fetching is not None:
            _drop(fetching)
        return request
    try:
        file = await (fetching or providers.signed_file(request, observation))
    except ProviderError as e:
        log.warning("signed_document_deferred", request_id=str(request.id), error=str(e))
        return request
    if file is None:
        log.info("signed_document_not_ready", request_id=str(request.id))
        return request
    stored = await store_signed(engine, request, file)
    log.info("signed_document_stored", request_id=str(request.id), bytes=len(file.content))
    return replace(request, signed_document=stored)


def _drop(fetching: asyncio.Task[SignedFile | None]) -> None:
    """A download nobody will use: stopped, and its failure (if it failed) read and dropped."""
    fetching.cancel()
    if fetching.done() and not fetching.cancelled():
        fetching.exception()
