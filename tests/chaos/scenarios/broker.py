"""RabbitMQ away under load: the link cut, the link black-holed, the broker itself restarted."""

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.settings import Settings
from tests.chaos.report import Report
from tests.chaos.scenarios.outage import Load, outage_under_load
from tests.chaos.stack import Stack

#: 5,000 runs at 30/s take 167 s; the broker is cut for a minute from the 30th second.
CUT_FULL = Load(
    runs=5000, per_second=30, fault_after_seconds=30, fault_seconds=60, settle_within=180
)
CUT_REDUCED = Load(
    runs=300, per_second=30, fault_after_seconds=3, fault_seconds=4, settle_within=40
)
#: Longer than the services' heartbeat grace (12 s at a 3 s heartbeat, see stack.py): they must
#: notice the silence themselves, as nothing resets their connections.
BLACK_HOLE_FULL = Load(
    runs=3000, per_second=30, fault_after_seconds=20, fault_seconds=30, settle_within=180
)
BLACK_HOLE_REDUCED = Load(
    runs=540, per_second=30, fault_after_seconds=2, fault_seconds=15, settle_within=40
)
RESTART_FULL = Load(
    runs=3000, per_second=30, fault_after_seconds=20, fault_seconds=20, settle_within=180
)


async def _cut(stack: Stack) -> None:
    await stack.amqp.cut()


async def _black_hole(stack: Stack) -> None:
    stack.amqp.black_hole()


async def _restore(stack: Stack) -> None:
    await stack.amqp.restore()


async def broker_cut(settings: Settings, log_dir: Path, load: Load = CUT_REDUCED) -> Report:
    report, _ = await outage_under_load(
        "broker cut", settings, log_dir, load, fault=_cut, repair=_restore
    )
    return report


async def broker_black_hole(
    settings: Settings, log_dir: Path, load: Load = BLACK_HOLE_REDUCED
) -> Report:
    report, _ = await outage_under_load(
        "broker black-holed", settings, log_dir, load, fault=_black_hole, repair=_restore
    )
    return report


async def _rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {stderr.decode(errors='replace')}")


async def _stop_app(stack: Stack) -> None:
    await _rabbitmqctl("stop_app")


async def _start_app(stack: Stack) -> None:
    await _rabbitmqctl("start_app")
    await _rabbitmqctl("await_startup")


async def broker_restart(settings: Settings, log_dir: Path, load: Load = RESTART_FULL) -> Report:
    """`rabbitmqctl stop_app` / `start_app` mid-load, in a vhost of its own. stop_app stops the
    whole node — every vhost, everyone's connections — so this runs only when asked for
    (`python -m tests.chaos --full --allow-broker-restart broker-restart`), never in `make test`."""
    vhost = f"docflow-chaos-{uuid.uuid4().hex[:8]}"
    user = urlsplit(settings.amqp_url).username or "guest"
    await _rabbitmqctl("add_vhost", vhost)
    try:
        await _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        private = settings.model_copy(
            update={"amqp_url": urlunsplit(urlsplit(settings.amqp_url)._replace(path=f"/{vhost}"))}
        )
        report, _ = await outage_under_load(
            "RabbitMQ restarted", private, log_dir, load, fault=_stop_app, repair=_start_app
        )
        return report
    finally:
        await _rabbitmqctl("delete_vhost", vhost)
