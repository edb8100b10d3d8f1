"""An executor's logs: JSON lines with the execution, workflow and node bound while it handles a
message, at the level the settings ask for."""

import asyncio
import json
import signal
import sys
import uuid
from typing import Any

import pytest

from shared.runtime import open_resources
from shared.settings import Settings
from tests.processes import consumer_count, service_env
from tests.support import eventually, seed_workflow, start_execution, wait_for_status

WORKFLOW = {
    "name": "logged",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {"id": "greet", "type": "set", "position": 1, "config": {"values": {"x": "hi"}}},
        {"id": "broken", "type": "set", "position": 2, "config": {"values": {"y": "{{ 1 / 0 }}"}}},
    ],
}

pytestmark = pytest.mark.slow


async def _run_logged(settings: Settings, level: str) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    """Run WORKFLOW on an executor process writing JSON at `level`; return its output lines."""
    async with open_resources(settings) as resources:  # declares the queues it will consume
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            "executor",
            env=service_env(settings, DOCFLOW_LOG_FORMAT="json", DOCFLOW_LOG_LEVEL=level),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await eventually(lambda: consumer_count(settings, "executions.run"), lambda n: n >= 1)
            workspace_id, workflow_id = await seed_workflow(resources, WORKFLOW)
            execution_id = await start_execution(resources, workspace_id, workflow_id)
            await wait_for_status(resources, execution_id, "failed")
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
    assert process.stderr is not None
    output = await asyncio.wait_for(process.stderr.read(), 30)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    return execution_id, workflow_id, output.decode().splitlines()


async def test_every_line_written_while_handling_a_message_names_the_execution_workflow_and_node(
    pg_settings: Settings,
) -> None:
    execution_id, workflow_id, lines = await _run_logged(pg_settings, "INFO")

    records: list[dict[str, Any]] = [json.loads(line) for line in lines]  # each line is JSON
    handling = [r for r in records if "message_type" in r]
    assert handling, records
    for record in handling:
        assert record["execution_id"] == str(execution_id), record
        assert record["workflow_id"] == str(workflow_id), record
        assert {"timestamp", "level", "event"} <= record.keys()
    by_event = {(r["event"], r.get("node_id")) for r in handling}
    assert {
        ("execution_started", None),
        ("node_started", "start"),
        ("node_completed", "start"),
        ("node_completed", "greet"),
        ("node_failed", "broken"),
        # Still inside the node that failed, so its id is bound too.
        ("execution_failed", "broken"),
    } <= by_event
    node_lines = [r for r in handling if r["event"].startswith("node_")]
    assert all(r["node_id"] in {"start", "greet", "broken"} for r in node_lines)
    failed = next(r for r in handling if r["event"] == "node_failed")
    assert failed["level"] == "warning" and "division" in failed["error"]
    assert {"service_started", "service_stopping", "service_stopped"} <= {
        r["event"] for r in records
    }


async def test_the_log_level_comes_from_the_settings(pg_settings: Settings) -> None:
    _, _, lines = await _run_logged(pg_settings, "WARNING")

    levels = {json.loads(line)["level"] for line in lines}
    # The run's info lines are gone; its failure (a warning) is still written.
    assert levels == {"warning"}, lines
