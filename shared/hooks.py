"""The hook every consumer wraps its handler in: log context and the message counter.

Kept at the edge so handlers hold no metric calls: the ids a message names are bound to the
structlog context for every line written while it is handled, and its outcome is counted.
"""

from shared.broker.base import Handler
from shared.logging import log_context
from shared.messages import Message
from shared.metrics import Metrics

#: Message fields bound to the log context when a message carries them.
LOGGED_FIELDS = ("execution_id", "workflow_id", "node_id", "wait_id")


def observed(queue: str, handler: Handler, metrics: Metrics) -> Handler:
    async def handle(message: Message) -> None:
        # The model's own field values: getattr() on a field a message type lacks goes
        # through pydantic's __getattr__ and a raised AttributeError, four times a message.
        fields = vars(message)
        ids = {
            name: str(value) for name in LOGGED_FIELDS if (value := fields.get(name)) is not None
        }
        outcome = "failed"
        with log_context(message_type=getattr(message, "type", None), **ids):
            try:
                await handler(message)
                outcome = "handled"
            finally:
                metrics.messages_handled.labels(queue=queue, outcome=outcome).inc()

    return handle
