"""Wiring: the routes, the middleware order, and what the application holds."""

from aiohttp import web

from services.gateway import (
    api_keys,
    approvals,
    connections,
    documents,
    executions,
    health,
    hooks,
    hubspot_webhooks,
    openapi,
    signature_requests,
    signature_webhooks,
    streams,
    templates,
    wait_event_api,
    workflows,
)
from services.gateway.auth import API_PREFIX, require_api_key
from services.gateway.event_hub import EventHub
from services.gateway.keys import (
    API_KEYS,
    EVENT_HUB,
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
from services.gateway.middleware import database_budget, observe, problems
from services.gateway.outbox_publisher import OutboxPublisher
from services.gateway.rate_limits import RATE_LIMITS, RateLimits, TokenBuckets, limit_by_address
from services.gateway.request_metrics import MetricChildren
from services.gateway.run_request_sql import RunInserts
from services.gateway.signature_webhooks_pg import InboxWriter
from services.gateway.tasks import BackgroundTasks
from services.lifecycle import Readiness
from shared.api_keys import KeyCache
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
    app[SIGNATURE_INBOX] = InboxWriter(resources.engine)
    app[RUNS] = RunInserts(resources.engine)
    app[API_KEYS] = KeyCache(resources.sessions, resources.settings.auth_cache_seconds)
    app[OPENAPI] = openapi.build_document(registry)
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
    _add_routes(app.router, metrics=settings.metrics_on_api_port)
    wait_event_api.add_routes(app)
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


def _add_routes(router: web.UrlDispatcher, *, metrics: bool) -> None:
    router.add_get("/healthz", health.healthz)
    router.add_get("/readyz", health.readyz)
    if metrics:
        router.add_get("/metrics", health.metrics)
    api = API_PREFIX
    router.add_get(f"{api}/openapi.json", openapi.serve)
    router.add_get(f"{api}/workflows", workflows.list_all)
    router.add_post(f"{api}/workflows", workflows.create)
    router.add_get(f"{api}/workflows/{{workflow_id}}", workflows.read, name="workflow")
    router.add_put(f"{api}/workflows/{{workflow_id}}", workflows.replace)
    router.add_post(f"{api}/workflows/{{workflow_id}}/executions", executions.start)
    router.add_get(f"{api}/executions", executions.list_page)
    router.add_get(f"{api}/executions/{{execution_id}}", executions.read, name="execution")
    router.add_post(f"{api}/executions/{{execution_id}}/cancel", executions.cancel)
    router.add_post(f"{api}/executions/{{execution_id}}/retry", executions.retry)
    connections.add_routes(router)
    api_keys.add_routes(router)
    templates.add_routes(router)
    documents.add_routes(router)
    hubspot_webhooks.add_routes(router)
    hooks.add_routes(router)
    approvals.add_routes(router)
    streams.add_routes(router)
    signature_webhooks.add_routes(router)
    signature_requests.add_routes(router)
