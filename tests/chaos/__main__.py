"""`python -m tests.chaos [--full] [scenario ...]`: run fault-injection scenarios against real
processes, PostgreSQL and RabbitMQ, and print their figures as a Markdown table.

Without `--full` each scenario runs its reduced version (the one `make test` runs). The broker
restart stops the whole RabbitMQ node, so it runs only with `--full --allow-broker-restart`.
"""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.chaos.environment import private_environment
from tests.chaos.report import Report, table
from tests.chaos.scenarios.catalogue import SCENARIOS, STOPS_THE_BROKER


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)}; default all")
    parser.add_argument("--full", action="store_true", help="the full-size versions")
    parser.add_argument(
        "--allow-broker-restart",
        action="store_true",
        help="also run broker-restart (stops the RabbitMQ node: nobody else may be using it)",
    )
    parser.add_argument("--logs", type=Path, help="keep each service's log here")
    parser.add_argument(
        "--keep", action="store_true", help="keep each scenario's database and queues"
    )
    return parser.parse_args()


async def _main(arguments: argparse.Namespace) -> int:
    names = arguments.scenarios or [
        name for name in SCENARIOS if name not in STOPS_THE_BROKER or arguments.allow_broker_restart
    ]
    if any(name in STOPS_THE_BROKER for name in names) and not (
        arguments.full and arguments.allow_broker_restart
    ):
        print("broker-restart needs --full --allow-broker-restart", file=sys.stderr)
        return 2
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    logs = arguments.logs or Path(tempfile.mkdtemp(prefix="docflow-chaos-"))
    reports: list[Report] = []
    for name in names:
        print(f"running {name} ({'full' if arguments.full else 'reduced'}) …", flush=True)
        async with private_environment(keep=arguments.keep) as settings:
            reports.append(await SCENARIOS[name](settings, logs / name, arguments.full))
        print(table(reports[-1:]), flush=True)
    print(f"\nAll scenarios ({'full' if arguments.full else 'reduced'}); logs in {logs}\n")
    print(table(reports))
    return 0 if all(report.holds for report in reports) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(_arguments())))
