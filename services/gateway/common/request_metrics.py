"""The series the gateway updates on every request, each looked up once and then kept.

Every request updates three series; on the webhook hot path prometheus_client's `labels()`
was a measurable share of the CPU (see `shared.metrics.series_by_labels`).
"""

from prometheus_client import Counter

from shared.metrics import Metrics, series_by_labels


class MetricChildren:
    def __init__(self, metrics: Metrics) -> None:
        self._requests = series_by_labels(metrics.http_requests)
        self.duration = series_by_labels(metrics.http_duration)
        self._webhooks = series_by_labels(metrics.webhook_events)

    def request(self, route: str, method: str, status: int) -> Counter:
        return self._requests(route, method, str(status))

    def webhook(self, provider: str, outcome: str) -> Counter:
        return self._webhooks(provider, outcome)
