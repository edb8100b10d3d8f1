"""What the machine itself gives a latency or a burst: its speed, and the floor of one paced
round trip to PostgreSQL and of one hop through a quorum queue.

Two readings taken on the same machine an hour apart differ by a third and more (other
tenants, the host's clock), so the events benchmark prints these beside its figures:
- **speed**: CPU seconds of a fixed pure-Python loop, before each burst, to tell a slower
  hour from a slower build;
- **the wake-up floor**: a `SELECT 1` paced at the steady phase's rate against the same
  statement back to back. On the 2-core development VM an idle core halts, and waking the
  process that a message is for costs more than the message: at 20/s that is most of a round
  trip. A resume crosses such a boundary several times in turn (client → gateway,
  gateway ⇄ PostgreSQL, gateway → broker → executor, executor ⇄ PostgreSQL), so this floor,
  not the work on the way, bounds its latency at a steady 20/s;
- **the broker's hop**: one persistent message through a quorum queue (as the resume queue
  is), published with confirms and consumed by aio-pika, paced the same way.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass

import aio_pika
from figures import percentile
from target import Target, connected

#: The loop `speed()` times; about 0.12 to 0.3 s of CPU on the development machine.
SPEED_LOOP = 10**7


def speed() -> float:
    """CPU seconds one pure-Python loop takes now: larger means a slower machine this minute."""
    began = time.process_time()
    sum(range(SPEED_LOOP))
    return time.process_time() - began


@dataclass(frozen=True)
class Floor:
    paced_round_trip_ms: float
    back_to_back_round_trip_ms: float
    broker_hop_ms: float


async def _pause(rate: float | None) -> None:
    if rate:
        await asyncio.sleep(1 / rate)


async def round_trips_ms(target: Target, *, count: int, rate: float | None) -> list[float]:
    """`SELECT 1` on one connection, `rate` per second or back to back."""
    async with connected(target) as connection:
        taken = []
        for _ in range(count):
            began = time.perf_counter()
            await connection.fetchval("SELECT 1")
            taken.append((time.perf_counter() - began) * 1000)
            await _pause(rate)
        return taken


async def broker_hops_ms(target: Target, *, count: int, rate: float) -> list[float]:
    """Publish → delivered through a throwaway quorum queue under the run's queue prefix."""
    connection = await aio_pika.connect(target.amqp_url, timeout=10)
    try:
        publisher = await connection.channel(publisher_confirms=True)
        consumer = await connection.channel()
        name = f"{target.queue_prefix}floor.{uuid.uuid4().hex[:8]}"
        queue = await consumer.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        delivered: asyncio.Queue[float] = asyncio.Queue()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            delivered.put_nowait(time.perf_counter())
            await message.ack()

        tag = await queue.consume(on_message)
        taken = []
        try:
            for _ in range(count):
                began = time.perf_counter()
                await publisher.default_exchange.publish(
                    aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=name,
                )
                arrived = await asyncio.wait_for(delivered.get(), timeout=10)
                taken.append((arrived - began) * 1000)
                await _pause(rate)
        finally:
            await queue.cancel(tag)
            # Not queue.delete(): quorum queues refuse the if-empty/if-unused flags it sends.
            await consumer.queue_delete(name)
        return taken
    finally:
        await connection.close()


async def floor(target: Target, *, rate: float, count: int = 200) -> Floor:
    paced = await round_trips_ms(target, count=count, rate=rate)
    back_to_back = await round_trips_ms(target, count=count, rate=None)
    hops = await broker_hops_ms(target, count=count, rate=rate)
    return Floor(
        paced_round_trip_ms=percentile(paced, 0.5),
        back_to_back_round_trip_ms=percentile(back_to_back, 0.5),
        broker_hop_ms=percentile(hops, 0.5),
    )
