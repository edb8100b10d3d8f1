"""The executor worker: consumes run and resume messages and runs executions."""

import aiohttp
import structlog

from services.executor.definitions import Definitions
from services.executor.handlers import Handlers
from services.executor.nodes.base import NodeServices, NodeType
from services.executor.nodes.registry import build_node_registry, core_node_types
from services.executor.runner import Runner
from shared.broker.base import Subscription
from shared.broker.topology import RESUME, RUN
from shared.runtime import Resources

log = structlog.get_logger(__name__)


class ExecutorWorker:
    def __init__(self, resources: Resources, node_types: list[NodeType] | None = None) -> None:
        self._resources = resources
        self._registry = build_node_registry(node_types or core_node_types())
        self._subscriptions: list[Subscription] = []
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        r = self._resources
        settings = r.settings
        self._http = aiohttp.ClientSession()
        runner = Runner(
            engine=r.engine,
            sessions=r.sessions,
            broker=r.broker,
            services=NodeServices(settings=settings, http=self._http, engine=r.engine),
            metrics=r.metrics,
            owner=settings.worker_id,
            lease_seconds=settings.lease_seconds,
        )
        handlers = Handlers(
            engine=r.engine,
            broker=r.broker,
            definitions=Definitions(r.engine, self._registry),
            runner=runner,
            metrics=r.metrics,
            settings=settings,
        )
        self._subscriptions = [
            await r.broker.consume(RUN, handlers.on_run_queue, prefetch=settings.prefetch),
            await r.broker.consume(RESUME, handlers.on_resume_queue, prefetch=settings.prefetch),
        ]
        log.info("executor_started", worker_id=settings.worker_id, prefetch=settings.prefetch)

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.cancel()
        self._subscriptions = []
        if self._http is not None:
            await self._http.close()
            self._http = None
        log.info("executor_stopped")
