"""The one settings class. Built once in a command's entry point and passed down."""

import os
import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_DATA_DIR = Path(".docflow")


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """Every `DOCFLOW_*` environment variable; the defaults are the embedded ones."""

    model_config = SettingsConfigDict(env_prefix="DOCFLOW_", frozen=True, extra="ignore")

    #: SQLAlchemy async URL. Default: SQLite under ./.docflow/.
    database_url: str = f"sqlite+aiosqlite:///{EMBEDDED_DATA_DIR}/docflow.db"
    #: AMQP URL of RabbitMQ, or `memory://` for the in-process broker (one process only).
    amqp_url: str = "memory://"
    #: AMQP heartbeat (seconds) unless the URL sets one: three missed in a row close the
    #: connection, so a link that silently drops packets is noticed and re-opened.
    amqp_heartbeat_seconds: int = Field(default=5, ge=1, le=600)
    #: Prefix for every queue and exchange name, so several deployments (or tests) share a broker.
    queue_prefix: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    #: Lets several `docflow gateway` processes listen on one port (SO_REUSEPORT, Linux): the
    #: kernel spreads connections over them, and a process that stops leaves the others serving.
    http_reuse_port: bool = False
    #: Base URL that links in e-mails and pages are built from (never the request's Host).
    public_url: str = "http://127.0.0.1:8080"
    #: How long a claimed execution stays owned by a worker without a heartbeat.
    lease_seconds: float = Field(default=30.0, gt=0)
    #: Messages an executor holds unacknowledged at once per queue (= executions it runs
    #: concurrently). Many at once make the checkpoints that share a commit more: on two cores,
    #: 128 measured about a quarter more node transitions/s than 32 (bench/run.py --prefetch).
    prefetch: int = Field(default=128, ge=1)
    #: E-mails a notifier sends at once, each in its own SMTP session.
    notifier_prefetch: int = Field(default=32, ge=1)
    #: PostgreSQL connections a process keeps open; as many more open under load. Five
    #: services at 8 + 8 stay well inside PostgreSQL's default 100.
    db_pool_size: int = Field(default=8, ge=1, le=100)
    #: Seconds to open a PostgreSQL connection, or to wait for a pooled one, before the
    #: database counts as unavailable (a 503 with Retry-After at the HTTP edge).
    db_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    #: Seconds one statement may take before the database counts as unavailable: a database
    #: that went silent answers nothing, and without a bound every caller would hang.
    db_statement_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Seconds all the database work of one HTTP request may take, however many statements
    #: (and waits for a group commit) it makes, before the gateway answers 503: the promise
    #: to clients is an answer within 2 s while the database is silent.
    db_request_budget_seconds: float = Field(default=1.5, gt=0)
    #: Deliveries of one message before RabbitMQ dead-letters it.
    delivery_limit: int = Field(default=5, ge=1)
    #: Seconds to wait for a publisher confirm before giving up (the outbox keeps the message).
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Largest accepted HTTP request body.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    #: How long the gateway trusts an API key it has read (a revoked key works that much longer
    #: on each gateway process); 0 reads the key on every request.
    auth_cache_seconds: float = Field(default=10.0, ge=0)
    #: How often the scheduler looks for due timers, expired leases and stranded outbox rows.
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)
    #: Outbox rows older than this are relayed by the scheduler (younger ones are in flight).
    outbox_relay_after_seconds: float = Field(default=5.0, ge=0)
    #: A paused run whose gate is decided (or whose fired deadline is still open) this long
    #: after the fact gets its resume again: the first one was lost (dead-lettered).
    stalled_resume_after_seconds: float = Field(default=60.0, gt=0)
    #: SMTP server for e-mail; empty means print e-mails to the console.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_from: str = "docflow@localhost"
    #: Port for `/metrics` and health on worker processes (executor, notifier, scheduler); 0 = off.
    metrics_port: int = Field(default=0, ge=0)
    log_level: str = "INFO"
    #: `json` for machines, `console` for people.
    log_format: str = "json"
    #: Fernet key (32 url-safe base64 bytes) that encrypts connection secrets at rest;
    #: `docflow dev` creates one under ./.docflow/ when it is not set.
    secret_key: str = ""
    #: Identifies this process in leases; default host-pid.
    worker_id: str = Field(default_factory=_default_worker_id)

    # Observability and shutdown (issue 6).
    #: On SIGTERM, how long an executor lets the nodes in progress finish before it interrupts
    #: them and hands their executions to another worker.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)

    # E-mail delivery and triggers (documents, e-mail and CRM).
    #: Tries of one e-mail (its first included) before a transient trouble fails it for good.
    email_max_attempts: int = Field(default=10, ge=1, le=100)
    #: Wait before the second try of a deferred e-mail; it doubles per try, up to the maximum,
    #: and is never shorter than the server's `Retry-After`.
    email_retry_initial_seconds: float = Field(default=2.0, gt=0)
    email_retry_max_seconds: float = Field(default=300.0, gt=0)
    #: A try whose claim is this old without an outcome, and whose row no live notifier holds,
    #: was cut short and its message did not come back (dead-lettered, lost): the e-mail is
    #: put back in the queue. Redelivery after a crash is the usual way back; this is the last.
    email_stuck_after_seconds: float = Field(default=120.0, gt=0)
    #: Tries of one e-mail cut short (a notifier killed or its database lost mid-send) before
    #: it fails for good: an e-mail that kills every notifier must not do so for ever.
    email_max_interruptions: int = Field(default=20, ge=1)
    #: Largest message Graph `sendMail` takes with attachments inline; bigger ones go through a
    #: draft and upload sessions.
    graph_inline_attachment_bytes: int = Field(default=3 * 1024 * 1024, ge=1)

    # E-signature (ClickSign, ZapSign).
    #: ClickSign API (v3 envelopes) base URL; the sandbox is https://sandbox.clicksign.com.
    clicksign_base_url: str = "https://app.clicksign.com"
    #: ClickSign access token, sent as the bare `Authorization` header.
    clicksign_access_token: str = ""
    #: The webhook's "HMAC SHA256 Secret"; empty refuses every ClickSign webhook.
    clicksign_webhook_secret: str = ""
    #: ZapSign API base URL; the sandbox is https://sandbox.api.zapsign.com.br.
    zapsign_base_url: str = "https://api.zapsign.com.br"
    #: ZapSign API token, sent as `Authorization: Bearer <token>`.
    zapsign_api_token: str = ""
    #: The custom header ZapSign's webhook is configured to send with the secret.
    zapsign_webhook_header: str = "X-DocFlow-Webhook-Secret"
    #: That header's value; empty refuses every ZapSign webhook.
    zapsign_webhook_secret: str = ""
    #: Timeout of each call to a signature provider.
    signature_http_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Largest document sent for signature or downloaded signed.
    signature_max_document_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    #: A pending request without a webhook for this long is polled from its provider.
    signature_reconcile_after_seconds: float = Field(default=600.0, gt=0)
    #: Tries at cancelling a request at its provider (after its run ended) while the provider
    #: answers 429, 5xx or not at all; a refusal ends them at once.
    signature_cancel_max_attempts: int = Field(default=10, ge=1, le=100)
    #: Wait before the second try at cancelling; doubles per try (at most an hour).
    signature_cancel_retry_initial_seconds: float = Field(default=5.0, gt=0)

    # Templates and generated documents (documents, e-mail and CRM).
    #: Largest template file accepted by `POST /api/v1/templates`.
    template_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    #: Files up to this size go to OneDrive/SharePoint in one PUT; larger ones through a Graph
    #: upload session.
    graph_simple_upload_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1)

    # Outbound calls and untrusted input (issue 13).
    #: Comma-separated CIDRs and host names that workflows and connections may reach although
    #: they are loopback, private, link-local, CGNAT, multicast or unspecified; empty opens
    #: none. `docflow dev` adds the loopback networks.
    egress_allow: str = ""
    #: Largest HTTP answer a webhook node keeps in the context; a larger one fails the node.
    http_response_max_bytes: int = Field(default=1024 * 1024, ge=1)

    #: Requests a second one API key may make (a burst of twice that passes); 0 turns it off.
    rate_limit_api_per_second: float = Field(default=1000.0, ge=0)
    #: Approval page and console sign-in requests a second from one client address; 0 = off.
    rate_limit_pages_per_second: float = Field(default=100.0, ge=0)
    #: Webhook requests a second from one client address; 0 turns it off.
    rate_limit_webhooks_per_second: float = Field(default=1000.0, ge=0)
    #: How long the templates of one node may run, in all, before the node fails.
    template_budget_seconds: float = Field(default=1.0, gt=0, le=60)
    #: The largest value (string, list, number) a template may build, and its largest output.
    template_budget_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Largest output (as JSON) one node may put into the context; a larger one fails it.
    max_node_output_bytes: int = Field(default=256 * 1024, ge=1024)
    #: Largest execution context (as JSON); a node that would grow it past this fails.
    max_context_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    #: Whether the gateway serves `/metrics` on its HTTP (API) port.
    metrics_on_api_port: bool = True
    #: How long an operator console sign-in lasts; signing out, or revoking the API key it
    #: was made with, ends it sooner.
    console_session_seconds: float = Field(default=8 * 3600.0, gt=0)
    #: How long one live event stream of an execution stays open; the client reconnects with
    #: Last-Event-ID and misses nothing. Bounds what a waiting run's listeners hold.
    event_stream_max_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("egress_allow")
    @classmethod
    def _egress_allow_parses(cls, value: str) -> str:
        from shared.egress.policy import EgressPolicy

        EgressPolicy.parse(value)
        return value

    @property
    def is_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_memory_broker(self) -> bool:
        return self.amqp_url.startswith("memory://")
