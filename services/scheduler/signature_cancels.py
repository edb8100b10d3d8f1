"""Duty: cancel at their provider the signature requests whose run ended while they were open.

What is due was marked by the transaction that ended the run (shared/esign/cancel.py); each is
taken by a compare-and-set before the provider is called, so the provider hears of it once even
with several schedulers, and a try cut short by a crash is taken again after it timed out.
"""

import aiohttp

from shared.esign.cancel import cancel_once, due_requests, take_due
from shared.esign.providers import Providers
from shared.runtime import Resources


async def cancel_signature_requests(resources: Resources, *, batch: int) -> int:
    """Try each due cancellation once; returns how many were due."""
    due = await due_requests(resources.engine, batch)
    if not due:
        return 0
    settings = resources.settings
    # A try may last one provider call; past that, a try its process did not finish is over.
    hold = 2 * settings.signature_http_timeout_seconds + 10.0
    async with aiohttp.ClientSession() as http:
        providers = Providers(settings, http, resources.engine)
        for request_id in due:
            request = await take_due(resources.engine, request_id, hold_seconds=hold)
            if request is None:
                continue
            outcome = await cancel_once(
                resources.engine,
                providers,
                request,
                max_attempts=settings.signature_cancel_max_attempts,
                initial_backoff_seconds=settings.signature_cancel_retry_initial_seconds,
            )
            cancels = resources.metrics.signature_cancels
            cancels.labels(request.provider, outcome or "deferred").inc()
    return len(due)
