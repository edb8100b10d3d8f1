"""Real PostgreSQL and RabbitMQ for every test that needs them.

A session fixture migrates a template database once; each test gets its own database copied
from it and its own queue-name prefix, so tests never see each other's rows or messages.
Without the services a test is skipped locally and fails in CI (CI=true).
"""

import asyncio
import os
import queue
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import aio_pika
import asyncpg
import pytest

from shared.broker.topology import WORK_QUEUES, Names
from shared.db.migrate import upgrade
from shared.egress import LOOPBACK
from shared.logging import configure_logging
from shared.settings import Settings
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign

if TYPE_CHECKING:
    from tests.support import Receiver

PG_HOST = os.environ.get("DOCFLOW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DOCFLOW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DOCFLOW_TEST_PG_USER", "postgres")
AMQP_URL = os.environ.get("DOCFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The services a test runs in its own process never set up logging, and structlog's default
# renders every logged exception as a syntax-highlighted table (rich, pygments): that took
# half of the test process's CPU while the fault tests ran. The services' own set-up instead:
# plain tracebacks, INFO and up.
configure_logging("INFO", "console")


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _unavailable(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable: {error!r}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"docflow_template_{os.getpid()}"

    async def create() -> None:
        conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except (OSError, asyncpg.PostgresError) as e:
        _unavailable("PostgreSQL", e)
    upgrade(pg_url(name))
    yield name

    async def drop() -> None:
        conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


class DatabasesAhead:
    """Test databases copied from the template before the tests that take them, and dropped
    after them, on a thread of its own: a copy and a drop take a quarter of a second between
    them, which every test using PostgreSQL otherwise waited for (minutes of a full run)."""

    #: Copies kept ready: one is enough for a test that takes longer than a copy, two absorb
    #: a few quick tests in a row.
    AHEAD = 2

    def __init__(self, template: str) -> None:
        self._template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="test-databases", daemon=True)
        self._thread.start()
        for _ in range(self.AHEAD):
            self._work.put(("create", ""))

    def take(self) -> str:
        """A database of the template's, ready; raises what copying one raised."""
        taken = self._ready.get(timeout=120)
        self._work.put(("create", ""))
        if isinstance(taken, BaseException):
            raise taken
        return taken

    def give_back(self, name: str) -> None:
        self._work.put(("drop", name))

    def close(self) -> None:
        """Drop what is still ready or waiting to be dropped, then stop."""
        self._work.put(None)
        self._thread.join(timeout=120)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        while True:
            job = await asyncio.to_thread(self._work.get)
            if job is None:
                break
            action, name = job
            try:
                if action == "drop":
                    await _drop_database(name)
                else:
                    self._ready.put(await self._copy())
            except Exception as e:
                if action == "create":
                    self._ready.put(e)
        while not self._ready.empty():
            left = self._ready.get()
            if isinstance(left, str):
                await _drop_database(left)

    async def _copy(self) -> str:
        name = f"docflow_test_{uuid.uuid4().hex[:12]}"
        conn = await _admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        finally:
            await conn.close()
        return name


async def _drop_database(name: str) -> None:
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_databases(pg_template: str) -> Iterator[DatabasesAhead]:
    databases = DatabasesAhead(pg_template)
    yield databases
    databases.close()


@pytest.fixture
async def pg_database(pg_databases: DatabasesAhead) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one test; yields its SQLAlchemy URL."""
    try:
        name = await asyncio.to_thread(pg_databases.take)
    except (OSError, asyncpg.PostgresError) as e:
        _unavailable("PostgreSQL", e)
    yield pg_url(name)
    pg_databases.give_back(name)


@pytest.fixture
async def queue_prefix() -> AsyncIterator[str]:
    """A unique prefix for this test's queues and exchanges, deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except Exception as e:
        _unavailable("RabbitMQ", e)
    await connection.close()
    yield prefix
    names = Names(prefix)
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    try:
        channel = await connection.channel()
        for logical in WORK_QUEUES:
            await channel.queue_delete(names.queue(logical))
            await channel.queue_delete(names.dead_letter_queue(logical))
        await channel.exchange_delete(names.events_exchange)
        await channel.exchange_delete(names.dead_letter_exchange)
    finally:
        await connection.close()


def make_settings(**overrides: object) -> Settings:
    """Settings for tests: fast timers, short leases; never read from this shell's env."""
    values: dict[str, object] = {
        "lease_seconds": 5.0,
        "scheduler_interval_seconds": 0.1,
        "outbox_relay_after_seconds": 1.0,
        "publish_timeout_seconds": 2.0,
        "prefetch": 8,
        "delivery_limit": 3,
        "log_format": "console",
        "log_level": "WARNING",
        # The production bound (2 s) is for a gateway that should answer 503 rather than hang;
        # a full CI run on two busy cores once took longer than that to open a connection for a
        # test's own poll. The tests of the bound set theirs.
        "db_connect_timeout_seconds": 10.0,
        # Fake providers and webhook receivers listen on 127.0.0.1: opened here, explicitly,
        # as `docflow dev` does; the egress tests build their own policy without it.
        "egress_allow": LOOPBACK,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
async def pg_settings(pg_database: str, queue_prefix: str) -> Settings:
    """Production backends: real PostgreSQL and RabbitMQ."""
    return make_settings(database_url=pg_database, amqp_url=AMQP_URL, queue_prefix=queue_prefix)


@pytest.fixture
async def embedded_settings(tmp_path: Path) -> Settings:
    """Embedded backends: SQLite and the in-process broker, as in `docflow dev`."""
    url = f"sqlite+aiosqlite:///{tmp_path}/docflow.db"
    await asyncio.to_thread(upgrade, url)
    return make_settings(database_url=url, amqp_url="memory://")


@pytest.fixture(params=["postgres", "embedded"])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Engine tests run on both backends."""
    name = "pg_settings" if request.param == "postgres" else "embedded_settings"
    result: Settings = request.getfixturevalue(name)
    return result


@pytest.fixture
async def receiver() -> AsyncIterator["Receiver"]:
    """A local HTTP server standing in for a webhook target."""
    from tests.support import Receiver

    server = await Receiver().start()
    yield server
    await server.stop()


# Local servers that behave like the e-signature providers' documented APIs.
@pytest.fixture
async def clicksign() -> AsyncIterator[FakeClickSign]:
    server = FakeClickSign()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def zapsign() -> AsyncIterator[FakeZapSign]:
    server = FakeZapSign()
    await server.start()
    yield server
    await server.stop()
