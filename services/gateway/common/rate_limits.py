"""Abuse limits: token buckets per API key, and per client address on approval pages and
webhook endpoints. Over the limit a request gets `429` with `Retry-After` and does nothing.

The buckets live in this process (each gateway process holds its own), which is what a limit
against a flood needs; the defaults are far above what a client or provider sends.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from services.gateway.common.problems import Problem
from services.gateway.common.routing import route_template
from services.gateway.common.webhook_metrics import WEBHOOK_PREFIXES

#: A bucket holds this many seconds of its rate: short bursts pass, floods do not.
BURST_SECONDS = 2.0
#: Approval pages, and the console's sign-in form: what a person opens and clicks.
PAGE_ROUTES = frozenset({"/approve/{token}", "/console/sign-in"})


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One bucket per key, refilled at `rate` a second up to `rate * BURST_SECONDS`."""

    #: Buckets past this many are swept of full ones (a full bucket is a fresh one).
    MAX_ENTRIES = 100_000

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate * BURST_SECONDS)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """0 when the request may go on; else the seconds until it could."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_ENTRIES:
                self._sweep(now)
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
        bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def _sweep(self, now: float) -> None:
        def full(bucket: _Bucket) -> bool:
            return bucket.tokens + (now - bucket.at) * self._rate >= self._capacity

        self._buckets = {k: b for k, b in self._buckets.items() if not full(b)}
        if len(self._buckets) >= self.MAX_ENTRIES:
            self._buckets.clear()


@dataclass(frozen=True)
class RateLimits:
    api_keys: TokenBuckets
    pages: TokenBuckets
    webhooks: TokenBuckets


RATE_LIMITS = web.AppKey("rate_limits", RateLimits)


def too_many(wait_seconds: float, what: str) -> Problem:
    retry_after = max(1, math.ceil(wait_seconds))
    return Problem(
        429,
        "too-many-requests",
        f"too many requests {what}; try again in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def check_api_key(request: web.Request, raw_key: str) -> None:
    """Called by auth once the key is known good: its own bucket."""
    wait = request.app[RATE_LIMITS].api_keys.take(raw_key)
    if wait:
        raise too_many(wait, "with this API key")


@web.middleware
async def limit_by_address(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Approval pages and webhooks, per client address (the peer's; behind a proxy, the
    proxy's, which then should limit by client itself)."""
    template = route_template(request)
    if template is not None:
        limits = request.app[RATE_LIMITS]
        buckets = (
            limits.pages
            if template in PAGE_ROUTES
            else limits.webhooks
            if template.startswith(WEBHOOK_PREFIXES)
            else None
        )
        if buckets is not None:
            wait = buckets.take(request.remote or "")
            if wait:
                raise too_many(wait, "from this address")
    return await handler(request)
