"""The series the gateway updates on every request, each looked up once and then kept.

prometheus_client's `labels()` checks its arguments and takes a lock on every call, and every
request updates three series: on the webhook hot path that was a measurable share of the CPU.
A series is found here by a dict lookup instead. The label values are the same bounded sets
as before (route templates, methods, statuses, providers, outcomes).
"""

from prometheus_client import Counter, Histogram

from shared.metrics import Metrics


class MetricChildren:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._durations: dict[tuple[str, str], Histogram] = {}
        self._webhooks: dict[tuple[str, str], Counter] = {}

    def request(self, route: str, method: str, status: int) -> Counter:
        key = (route, method, status)
        child = self._requests.get(key)
        if child is None:
            child = self._metrics.http_requests.labels(route, method, str(status))
            self._requests[key] = child
        return child

    def duration(self, route: str, method: str) -> Histogram:
        key = (route, method)
        child = self._durations.get(key)
        if child is None:
            child = self._metrics.http_duration.labels(route, method)
            self._durations[key] = child
        return child

    def webhook(self, provider: str, outcome: str) -> Counter:
        key = (provider, outcome)
        child = self._webhooks.get(key)
        if child is None:
            child = self._metrics.webhook_events.labels(provider=provider, outcome=outcome)
            self._webhooks[key] = child
        return child
