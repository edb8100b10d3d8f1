"""The floor: what PostgreSQL alone commits here as single-row versioned updates.

Every node transition in DocFlow is at least one such commit (a compare-and-set on the
execution's version), so this is the ceiling the engine is compared against. Plain asyncpg,
no SQLAlchemy, autocommit: each statement is its own transaction.
"""

import asyncio
import time
from dataclasses import dataclass

import asyncpg

TABLE = "bench_floor"
#: About the size of a small execution context; the payload is rewritten on every commit.
PAYLOAD = "x" * 200
UPDATE = f"UPDATE {TABLE} SET version = version + 1, payload = $2 WHERE id = $1 AND version = $3"


@dataclass(frozen=True)
class Floor:
    commits: int
    seconds: float
    connections: int
    #: CPU this (client) process used: what asyncpg alone costs per commit, for comparison.
    client_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.commits / self.seconds

    @property
    def client_cpu_per_commit_ms(self) -> float:
        return 1000 * self.client_cpu_seconds / self.commits if self.commits else 0.0


async def measure_floor(dsn: str, *, connections: int, seconds: float) -> Floor:
    """Each connection updates its own row as fast as it can for `seconds`."""
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        await _create_table(conns[0], connections)
        start, cpu_start = time.perf_counter(), time.process_time()
        deadline = start + seconds
        counts = await asyncio.gather(
            *(_update_until(conn, row_id, deadline) for row_id, conn in enumerate(conns))
        )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        await conns[0].execute(f"DROP TABLE {TABLE}")
    finally:
        for conn in conns:
            await conn.close()
    return Floor(
        commits=sum(counts), seconds=elapsed, connections=connections, client_cpu_seconds=cpu
    )


async def _create_table(conn: asyncpg.Connection, rows: int) -> None:
    await conn.execute(
        f"CREATE TABLE {TABLE} (id int PRIMARY KEY, version int NOT NULL, payload text NOT NULL)"
    )
    await conn.executemany(
        f"INSERT INTO {TABLE} (id, version, payload) VALUES ($1, 0, $2)",
        [(row_id, PAYLOAD) for row_id in range(rows)],
    )


async def _update_until(conn: asyncpg.Connection, row_id: int, deadline: float) -> int:
    version = 0
    while time.perf_counter() < deadline:
        status = await conn.execute(UPDATE, row_id, PAYLOAD, version)
        if status != "UPDATE 1":
            raise RuntimeError(f"floor row {row_id} at version {version}: {status}")
        version += 1
    return version
