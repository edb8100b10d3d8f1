"""Typed keys for what the application and each request carry."""

import uuid
from typing import Any

from aiohttp import web

from services.gateway.common.outbox_publisher import OutboxPublisher
from services.gateway.common.request_metrics import MetricChildren
from services.gateway.common.tasks import BackgroundTasks
from services.gateway.console.sessions import SignedIn
from services.gateway.executions.event_hub import EventHub
from services.gateway.executions.run_request_sql import RunInserts
from services.gateway.signatures.webhooks_pg import InboxWriter
from services.lifecycle import Readiness
from shared.api_keys import KeyCache
from shared.db.log_flushes import LogFlushes
from shared.nodes.registry import ConfigRegistry
from shared.runtime import Resources

RESOURCES = web.AppKey("resources", Resources)
REGISTRY = web.AppKey("config_registry", ConfigRegistry)
TASKS = web.AppKey("background_tasks", BackgroundTasks)
OPENAPI = web.AppKey("openapi_document", dict[str, Any])
#: Wakes live event streams (executions/streams.py) when their execution publishes an event.
EVENT_HUB = web.AppKey("event_hub", EventHub)
#: Publishes what run, cancel and retry requests committed, and deletes their rows in batches.
OUTBOX = web.AppKey("outbox_publisher", OutboxPublisher)
#: Waits until what a request committed without the flush is on disk (docs/decisions/032).
LOG_FLUSHES = web.AppKey("log_flushes", LogFlushes)
#: The request, duration and webhook series the middleware updates, looked up once each.
METRIC_CHILDREN = web.AppKey("metric_children", MetricChildren)
#: Inserts accepted runs; on PostgreSQL, many per statement under load.
RUNS = web.AppKey("run_inserts", RunInserts)
#: Records verified e-signature webhooks on PostgreSQL, many per statement under load.
SIGNATURE_INBOX = web.AppKey("signature_inbox", InboxWriter)
#: API keys read recently, so a request usually needs no database read to authenticate.
API_KEYS = web.AppKey("api_key_cache", KeyCache)
#: False readiness once the process was told to stop (set by `docflow gateway`).
READINESS = web.AppKey("readiness", Readiness)

#: The workspace the request's API key belongs to; set by the auth middleware.
WORKSPACE = web.RequestKey("workspace_id", uuid.UUID)
#: The console session of a console request; set by console/guard.py.
SIGNED_IN = web.RequestKey("console_session", SignedIn)


def workspace_of(request: web.Request) -> uuid.UUID:
    return request[WORKSPACE]
