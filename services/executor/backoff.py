"""Retry back-off: exponential, capped, with jitter so retries of many runs spread out."""

import random

from shared.nodes.base import RetryPolicy


def backoff_seconds(
    policy: RetryPolicy, failed_attempt: int, rng: random.Random | None = None
) -> float:
    """Seconds to wait after attempt `failed_attempt` (1-based) failed."""
    base = policy.initial_interval_seconds * policy.backoff_coefficient ** (failed_attempt - 1)
    capped = min(base, policy.max_interval_seconds)
    jitter = (rng or random).uniform(0.8, 1.2)
    return min(capped * jitter, policy.max_interval_seconds)
