"""Every Prometheus metric, in one place, registered on an injected registry."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_NODE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


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
            "Executions that reached a final status",
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
            "Outbox rows not yet published",
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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
