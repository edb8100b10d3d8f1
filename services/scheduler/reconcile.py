"""Duty: poll signature requests whose webhooks went quiet, so a lost one cannot hang a run.

A request whose wait is still open and that heard nothing (no webhook, no poll) for
`DOCFLOW_SIGNATURE_RECONCILE_AFTER_SECONDS` is read from its provider; what the provider says
is applied as facts, exactly as a webhook would be, the signed file is fetched if it is due,
and a resume is staged for the executor to decide the wait. Taking a request bumps its
activity time in a transaction with SKIP LOCKED, so two schedulers never poll the same one.
"""

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Select, select, update

from shared.broker.topology import RESUME
from shared.db.tables import SignatureRequest, Wait
from shared.db.types import utcnow
from shared.egress import egress_session
from shared.esign import store
from shared.esign.errors import ProviderError
from shared.esign.model import RequestStatus
from shared.esign.providers import Providers
from shared.esign.store import RequestRow
from shared.esign.sync import apply_observation, collect_signed_document
from shared.messages import ResumeExecution
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources
from shared.status import WaitStatus

log = structlog.get_logger(__name__)


async def reconcile_signatures(resources: Resources, *, batch: int) -> int:
    """Poll up to `batch` quiet requests; returns how many were looked at."""
    taken = await _take_quiet(resources, batch)
    if not taken:
        return 0
    staged: list[Staged] = []
    async with egress_session(resources.settings) as http:
        providers = Providers(resources.settings, http, resources.engine)
        for request_id in taken:
            request = await _refresh(resources, providers, request_id)
            if request is None:
                continue
            async with resources.sessions.begin() as session:
                message = ResumeExecution(
                    execution_id=request.execution_id, wait_id=request.wait_id, reason="fact"
                )
                staged.append(await stage(session, RESUME, message))
    await publish_staged(resources.sessions, resources.broker, staged)
    return len(taken)


def quiet_requests(quiet_for: timedelta, now: datetime) -> Select[uuid.UUID]:
    """The requests this duty polls: sent, their wait open, and nothing heard for `quiet_for`."""
    return (
        select(SignatureRequest.id)
        .join(Wait, Wait.id == SignatureRequest.wait_id)
        .where(
            Wait.status == WaitStatus.OPEN,
            SignatureRequest.status != RequestStatus.CREATING.value,
            SignatureRequest.provider_request_id.is_not(None),
            SignatureRequest.last_activity_at < now - quiet_for,
        )
    )


async def _take_quiet(resources: Resources, batch: int) -> list[uuid.UUID]:
    now = utcnow()
    quiet_for = timedelta(seconds=resources.settings.signature_reconcile_after_seconds)
    async with resources.sessions.begin() as session:
        ids = list(
            (
                await session.scalars(
                    quiet_requests(quiet_for, now)
                    .order_by(SignatureRequest.last_activity_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True, of=SignatureRequest)
                )
            ).all()
        )
        if ids:
            await session.execute(
                update(SignatureRequest)
                .where(SignatureRequest.id.in_(ids))
                .values(last_activity_at=now)
            )
    return ids


async def _refresh(
    resources: Resources, providers: Providers, request_id: uuid.UUID
) -> RequestRow | None:
    """The request after applying what its provider says now; None when the poll failed."""
    engine = resources.engine
    async with engine.connect() as conn:
        request = await store.load(conn, request_id)
    if request is None:
        return None
    polls = resources.metrics.signature_polls
    if request.status != RequestStatus.PENDING:
        # Decided already; only its signed file (or the resume itself) may be missing.
        return await collect_signed_document(engine, providers, request)
    try:
        observation = await providers.poll(request)
    except ProviderError as e:
        polls.labels(request.provider, "error").inc()
        log.warning("signature_poll_failed", request_id=str(request_id), error=str(e))
        return None
    after = await apply_observation(engine, providers, request_id, observation)
    changed = after.status != request.status or after.signers != request.signers
    polls.labels(request.provider, "changed" if changed else "unchanged").inc()
    if changed:
        log.info("signature_request_reconciled", request_id=str(request_id), status=after.status)
    return after
