"""The executor worker: consumes run and resume messages and runs executions.

Stopping is graceful: deliveries stop first, the runs in hand finish their current node and are
handed back at the node boundary; a node still running after the grace period is interrupted
and handed back too. Either way another worker continues at once, and no finished node runs
again.
"""

import asyncio

import aiohttp
import structlog

from services.executor.definitions import Definitions
from services.executor.events import Events
from services.executor.handlers import Handlers
from services.executor.nodes.base import NodeServices, NodeType
from services.executor.nodes.registry import build_node_registry, core_node_types
from services.executor.nodes.signature_events import SignatureEvents
from services.executor.runner import Runner
from shared.broker.base import Handler, Subscription
from shared.broker.topology import RESUME, RUN, SIGNATURES
from shared.db.errors import through_outages
from shared.egress import egress_session
from shared.hooks import observed
from shared.messages import Message
from shared.runtime import Resources

log = structlog.get_logger(__name__)


class ShuttingDown(Exception):
    """A message arrived while this worker stops: it goes back to the queue for another."""


class ExecutorWorker:
    def __init__(self, resources: Resources, node_types: list[NodeType] | None = None) -> None:
        self._resources = resources
        self._registry = build_node_registry(node_types or core_node_types())
        self._subscriptions: list[Subscription] = []
        self._http: aiohttp.ClientSession | None = None
        self._runner: Runner | None = None
        self._events: Events | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        r = self._resources
        settings = r.settings
        self._stopping.clear()
        self._http = egress_session(settings)
        self._events = Events(r.broker)
        self._runner = Runner(
            engine=r.engine,
            sessions=r.sessions,
            broker=r.broker,
            events=self._events,
            services=NodeServices(settings=settings, http=self._http, engine=r.engine),
            metrics=r.metrics,
            owner=settings.worker_id,
            lease_seconds=settings.lease_seconds,
            interrupt_budget=settings.delivery_limit,
        )
        handlers = Handlers(
            engine=r.engine,
            events=self._events,
            definitions=Definitions(r.engine, self._registry, secret_key=settings.secret_key),
            runner=self._runner,
            metrics=r.metrics,
            settings=settings,
        )
        self._subscriptions = [
            await r.broker.consume(
                RUN,
                self._edge(RUN, handlers.on_run_queue),
                prefetch=settings.prefetch,
                give_up=handlers.give_up,
            ),
            await r.broker.consume(
                RESUME,
                self._edge(RESUME, handlers.on_resume_queue),
                prefetch=settings.prefetch,
                give_up=handlers.give_up,
            ),
        ]
        # Verified provider webhooks: applied here, then the wait is offered a decision.
        signature_events = SignatureEvents(
            engine=r.engine,
            http=self._http,
            settings=settings,
            resume=handlers.resume,
            give_up=handlers.give_up,
        )
        self._subscriptions.append(
            await r.broker.consume(
                SIGNATURES,
                self._edge(SIGNATURES, signature_events.on_message),
                prefetch=settings.prefetch,
                give_up=signature_events.give_up,
            )
        )
        log.info("executor_started", worker_id=settings.worker_id, prefetch=settings.prefetch)

    def _edge(self, queue: str, handler: Handler) -> Handler:
        async def guarded(message: Message) -> None:
            # Checked before any claim: a run claimed now would only be handed back, and a
            # resume must not be decided by a worker that may not live to run its node.
            if self._stopping.is_set():
                raise ShuttingDown("the executor is stopping")
            # Through a database outage the message stays here rather than use up its
            # deliveries (claims and resumes are safe to repeat).
            await through_outages(lambda: handler(message), what=queue, stopping=self._stopping)

        return observed(queue, guarded, self._resources.metrics)

    async def stop(self) -> None:
        self._stopping.set()
        subscriptions, self._subscriptions = self._subscriptions, []
        if self._runner is not None:
            self._runner.drain()
        # Each cancel stops deliveries at once, then waits for the messages in hand.
        cancelling = asyncio.gather(*(s.cancel() for s in subscriptions))
        grace = self._resources.settings.shutdown_grace_seconds
        try:
            await asyncio.wait_for(asyncio.shield(cancelling), timeout=grace)
        except TimeoutError:
            interrupted = self._runner.abandon() if self._runner is not None else 0
            log.warning("executor_grace_expired", interrupted=interrupted)
            await cancelling
        if self._events is not None:
            await self._events.flush()
        if self._http is not None:
            await self._http.close()
            self._http = None
        log.info("executor_stopped")
