"""Every Prometheus metric, in one place, registered on an injected registry.

Names follow the Prometheus conventions: counters end in `_total`, durations are histograms in
`_seconds`, gauges name what they count. Label values are bounded sets (workflow ids, node
types, route templates, queue names), never free text.
"""

import functools
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)

_NODE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: A resume waits on the scheduler's interval and the queue, so it starts coarser than a node.
_RESUME_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

#: Wait kinds the open-waits gauge always reports, so a dashboard shows 0 rather than no data.
WAIT_KINDS = ("timer", "retry", "approval", "signature", "email", "event")


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.executions_started = Counter(
            "docflow_executions_started_total",
            "Executions claimed for the first time",
            ["workflow_id"],
            registry=registry,
        )
        self.executions_finished = Counter(
            "docflow_executions_finished_total",
            "Executions that reached a final status (completed, failed, cancelled)",
            ["workflow_id", "status"],
            registry=registry,
        )
        self.node_duration = Histogram(
            "docflow_node_duration_seconds",
            "Time a node attempt took",
            ["node_type", "outcome"],
            buckets=_NODE_BUCKETS,
            registry=registry,
        )
        self.claim_conflicts = Counter(
            "docflow_claim_conflicts_total",
            "Claims or checkpoints lost to another writer",
            ["stage"],
            registry=registry,
        )
        self.messages_handled = Counter(
            "docflow_messages_handled_total",
            "Broker messages handled",
            ["queue", "outcome"],
            registry=registry,
        )
        self.outbox_relayed = Counter(
            "docflow_outbox_relayed_total",
            "Outbox rows published by the scheduler's relay",
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "docflow_outbox_backlog",
            "Outbox rows still there a second after they were staged: not published yet, "
            "or their delete is late",
            registry=registry,
        )
        self.http_requests = Counter(
            "docflow_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "docflow_http_request_duration_seconds",
            "HTTP request duration",
            ["route", "method"],
            registry=registry,
        )
        self.emails = Counter(
            "docflow_emails_total",
            "E-mails by outcome",
            ["outcome"],
            registry=registry,
        )
        self._observability(registry)
        self._signatures(registry)

    # Observability (issue 6): waits, resumes, queues, webhooks, shutdown.
    def _observability(self, registry: CollectorRegistry) -> None:
        self.waits_open = Gauge(
            "docflow_waits_open",
            "Open waits by kind (timer, retry, approval, signature)",
            ["kind"],
            registry=registry,
        )
        self.resume_latency = Histogram(
            "docflow_resume_latency_seconds",
            "From the moment a wait could resume (timer due, fact recorded) to its execution "
            "running again",
            ["kind"],
            buckets=_RESUME_BUCKETS,
            registry=registry,
        )
        self.queue_messages = Gauge(
            "docflow_queue_messages",
            "Messages ready in a work queue",
            ["queue"],
            registry=registry,
        )
        self.queue_consumers = Gauge(
            "docflow_queue_consumers",
            "Consumers attached to a work queue",
            ["queue"],
            registry=registry,
        )
        self.consumers = Gauge(
            "docflow_consumers",
            "This process's consumers that the broker delivers to, by queue (0: subscribed, "
            "but detached; the process is not ready)",
            ["queue"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "docflow_dead_letter_messages",
            "Messages waiting in a work queue's dead-letter queue",
            ["queue"],
            registry=registry,
        )
        self.webhook_events = Counter(
            "docflow_webhook_events_total",
            "Inbound webhook requests by provider and outcome (accepted, rejected, invalid, error)",
            ["provider", "outcome"],
            registry=registry,
        )
        self.executions_released = Counter(
            "docflow_executions_released_total",
            "Executions a stopping executor handed back for another to continue",
            registry=registry,
        )

    # E-signature: polls of requests whose webhooks went quiet (webhooks themselves are
    # counted at the edge, in `webhook_events`).
    def _signatures(self, registry: CollectorRegistry) -> None:
        self.signature_polls = Counter(
            "docflow_signature_polls_total",
            "Quiet signature requests polled from their provider, by outcome (changed, "
            "unchanged, error)",
            ["provider", "outcome"],
            registry=registry,
        )
        self.signature_cancels = Counter(
            "docflow_signature_cancels_total",
            "Tries at cancelling at the provider a request whose run ended, by outcome "
            "(cancelled, refused, gave_up, nothing_to_cancel, deferred)",
            ["provider", "outcome"],
            registry=registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def series_by_labels(metric: MetricT) -> Callable[..., MetricT]:
    """`metric.labels(*values)`, looked up once per set of label values and then kept.

    prometheus_client's `labels()` checks its arguments and takes a lock on every call; on
    the hot paths (every request, every node) a dict lookup does instead. Label values are
    bounded sets (routes, methods, statuses, node types, outcomes), so the cache is too.
    """
    return functools.cache(metric.labels)
