"""Wiring: the routes, the middleware order, and what the application holds."""

from aiohttp import web

from services.gateway import routes
from services.gateway.common.auth import require_api_key
from services.gateway.common.middleware import database_budget, observe, problems
from services.gateway.common.operations import add_routes
from services.gateway.common.outbox_publisher import OutboxPublisher
from services.gateway.common.rate_limits import (
    RATE_LIMITS,
    RateLimits,
    TokenBuckets,
    limit_by_address,
)
from services.gateway.common.request_metrics import MetricChildren
from services.gateway.common.tasks import BackgroundTasks
from services.gateway.executions import wait_event_api
from services.gateway.executions.event_hub import EventHub
from services.gateway.executions.run_request_sql import RunInserts
from services.gateway.keys import (
    API_KEYS,
    EVENT_HUB,
    LOG_FLUSHES,
    METRIC_CHILDREN,
    OPENAPI,
    OUTBOX,
    READINESS,
    REGISTRY,
    RESOURCES,
    RUNS,
    SIGNATURE_INBOX,
    TASKS,
)
from services.gateway.signatures.webhooks_pg import InboxWriter
from services.lifecycle import Readiness
from shared.api_keys import KeyCache
from shared.db.log_flushes import LogFlushes
from shared.nodes.registry import build_config_registry
from shared.runtime import Resources

#: Extra seconds beyond one publish timeout that shutdown grants to in-flight publishes.
DRAIN_GRACE_SECONDS = 1.0


def create_app(resources: Resources) -> web.Application:
    """The gateway over resources the caller opened (and closes after the app's cleanup)."""
    registry = build_config_registry()
    app = web.Application(
        # Outermost first: metrics see the final status of problem responses, and auth's 401
        # becomes a problem like any other error.
        middlewares=[observe, problems, database_budget, limit_by_address, require_api_key],
        # Bodies are read through bodies.json_object, which enforces the same limit; this
        # covers any reader that bypasses it.
        client_max_size=resources.settings.max_body_bytes,
    )
    app[RESOURCES] = resources
    app[REGISTRY] = registry
    app[METRIC_CHILDREN] = MetricChildren(resources.metrics)
    app[TASKS] = BackgroundTasks()
    app[OUTBOX] = OutboxPublisher(resources.broker, resources.engine)
    app[LOG_FLUSHES] = LogFlushes(resources.engine)
    app[SIGNATURE_INBOX] = InboxWriter(resources.engine)
    app[RUNS] = RunInserts(resources.engine)
    app[API_KEYS] = KeyCache(resources.sessions, resources.settings.auth_cache_seconds)
    app[EVENT_HUB] = EventHub(resources.broker)
    app[READINESS] = Readiness()
    settings = resources.settings
    app[RATE_LIMITS] = RateLimits(
        api_keys=TokenBuckets(settings.rate_limit_api_per_second),
        pages=TokenBuckets(settings.rate_limit_pages_per_second),
        webhooks=TokenBuckets(settings.rate_limit_webhooks_per_second),
    )
    # On shutdown, before the server waits for open requests: live streams end at once.
    app.on_shutdown.append(_close_event_hub)
    app.on_cleanup.append(_drain_background_tasks)
    # After the drain: the publishes it let finish hand their rows to this last delete.
    app.on_cleanup.append(_close_outbox_publisher)
    wait_event_api.add_state(app)
    table = routes.operations()
    app[OPENAPI] = routes.document(registry)
    served = settings.metrics_on_api_port
    add_routes(app.router, [o for o in table if served or o.path not in routes.OPTIONAL_PATHS])
    add_routes(app.router, routes.pages())
    return app


async def _close_event_hub(app: web.Application) -> None:
    await app[EVENT_HUB].close()


async def _drain_background_tasks(app: web.Application) -> None:
    # Publishes still running get a chance to finish; what is cut off stays in the outbox for
    # the scheduler's relay.
    timeout = app[RESOURCES].settings.publish_timeout_seconds + DRAIN_GRACE_SECONDS
    await app[TASKS].close(timeout)


async def _close_outbox_publisher(app: web.Application) -> None:
    await app[OUTBOX].close()
