"""An executor SIGKILLed every few seconds while runs call a webhook: every run completes, and
every call a run's webhook makes again after a crash carries the first one's `Idempotency-Key`."""

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from shared.settings import Settings
from tests.chaos.history import Outcome
from tests.chaos.report import Report
from tests.chaos.scenarios.kills import Kills, kills_under_load, run_number
from tests.support import Receiver

FULL = Kills(runs=2000, per_second=20, every_seconds=10, settle_within=180)
REDUCED = Kills(runs=150, per_second=20, every_seconds=2.5, settle_within=60)
#: How long the receiver holds each call, so that kills land mid-call too.
RECEIVER_DELAY_SECONDS = 0.2


def webhook_workflow(url: str) -> dict[str, Any]:
    return {
        "name": "chaos-webhook",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "price",
                "type": "set",
                "position": 1,
                "config": {"values": {"n": "{{ source.n }}"}},
            },
            {
                "id": "notify",
                "type": "webhook",
                "position": 2,
                "config": {"url": url, "body": {"n": "{{ nodes.price.n }}"}},
            },
            {"id": "done", "type": "set", "position": 3, "config": {"values": {"ok": True}}},
        ],
    }


async def executor_kill(settings: Settings, log_dir: Path, load: Kills = REDUCED) -> Report:
    receiver = await Receiver(delay_seconds=RECEIVER_DELAY_SECONDS).start()
    try:
        report, history = await kills_under_load(
            "executor SIGKILLed",
            settings,
            log_dir,
            load,
            victims=["executor-0", "executor-1"],
            workflow=webhook_workflow(receiver.url),
            trigger=lambda n: {"n": n},
        )
    finally:
        await receiver.stop()
    keys_by_run: dict[int, list[str]] = defaultdict(list)
    for call in receiver.calls:
        n = int(json.loads(call["body"])["n"])
        keys_by_run[n].append(call["headers"].get("Idempotency-Key", ""))
    expected = {
        run_number(op.key): f"{op.execution_id}:notify" for op in history.with_outcome(Outcome.OK)
    }
    for n, execution_key in expected.items():
        keys = keys_by_run.get(n, [])
        if not keys:
            report.problems.append(f"run {n} ({execution_key}) never called the webhook")
        elif set(keys) != {execution_key}:
            report.problems.append(f"run {n} called with keys {keys}, not {execution_key}")
    repeats = sum(len(keys) - 1 for keys in keys_by_run.values() if keys)
    report.extra["webhook calls"] = len(receiver.calls)
    report.extra["repeated calls (same key)"] = repeats
    return report
