"""The broker port: RabbitMQ in production and tests, an in-process broker in `docflow dev`."""

from shared.broker.base import Broker, Handler, Subscription
from shared.settings import Settings


def create_broker(settings: Settings) -> Broker:
    from shared.broker.topology import Names

    names = Names(settings.queue_prefix)
    if settings.is_memory_broker:
        from shared.broker.memory import MemoryBroker

        return MemoryBroker(names, delivery_limit=settings.delivery_limit)
    from shared.broker.rabbit import RabbitBroker

    return RabbitBroker(
        settings.amqp_url,
        names,
        delivery_limit=settings.delivery_limit,
        publish_timeout=settings.publish_timeout_seconds,
        heartbeat_seconds=settings.amqp_heartbeat_seconds,
    )


__all__ = ["Broker", "Handler", "Subscription", "create_broker"]
