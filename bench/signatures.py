"""E-signature webhooks: `.venv/bin/python bench/signatures.py --help`.

Over real processes (gateway, two executors, scheduler) on PostgreSQL and RabbitMQ, beside a
local server that behaves like ClickSign API v3 (the one the tests use), two figures:

1. Ingestion: verified, de-duplicated webhook events per second at the gateway. `--events`
   distinct ClickSign `sign` events (the documented body, each for its own document), each
   delivered twice, `--in-flight` at once, every one signed with `Content-Hmac`. The gateway
   verifies, records the first delivery in the inbox with its `signatures.events` message and
   answers the second as a duplicate. Only the gateway runs in this phase.
2. Resume latency: from the POST of the last signer's webhook to the `started_at` of the node
   after the `signature` node, p50/p99, at a steady `--rate` completions per second
   (default 20): the executor applies the event, downloads the signed file from the fake
   ClickSign, decides the wait and runs on.

It creates and drops its own database and queues and stops every process it started. Each
phase is a module of its own (signature_ingest, signature_latency); they reuse the engine
benchmark's sibling modules (target, stack, api, figures) by plain name.
"""

import argparse
import asyncio
from pathlib import Path

from signature_ingest import ingestion
from signature_latency import latency
from target import add_target_args, log_folder, own_database, own_queues, target_for

from shared.db.migrate import upgrade_async


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--phases", default="ingest,latency", help="phases to run (default ingest,latency)")
    add("--events", type=int, default=5000, help="distinct events, each sent twice (5000)")
    add("--in-flight", type=int, default=64, help="concurrent webhook POSTs (default 64)")
    add("--gateways", type=int, default=1, help="gateway processes in phase 1 (default 1)")
    add(
        "--profile",
        type=Path,
        default=None,
        help="phase 1: run the (first) gateway under a CPU-timed cProfile saved here, and print it",
    )
    add("--completions", type=int, default=400, help="runs completed in phase 2 (400)")
    add("--rate", type=float, default=20.0, help="completions per second (default 20)")
    add("--executors", type=int, default=2, help="executor processes (default 2)")
    add("--keep-logs", type=Path, default=None, help="copy the services' logs to this folder")
    add_target_args(add)
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    target = target_for(args, "signatures")
    phases = set(args.phases.split(","))
    with log_folder("signatures", args.keep_logs) as log_dir:
        async with own_database(target), own_queues(target):
            await upgrade_async(target.database_url)
            if "ingest" in phases:
                await ingestion(args, target, log_dir)
            if "latency" in phases:
                await latency(args, target, log_dir)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
