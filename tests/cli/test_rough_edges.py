"""What a new user trips over in the client: re-applying an unchanged file, listing
workflows, piping a list into `head`, and what a paused run waits on."""

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.cli.support import GREETER as WORKFLOW
from tests.cli.support import docflow
from tests.observability.stack import Stack
from tests.support import eventually

GATE = {
    "name": "gate",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {
            "id": "ok",
            "type": "human-in-loop",
            "position": 1,
            "config": {"approvers": [{"email": "carol@example.com", "name": "Carol"}]},
        },
    ],
}


async def test_applying_an_unchanged_file_saves_no_version_and_says_so(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "greeter.json"
    path.write_text(json.dumps(WORKFLOW))
    created = await docflow(env, "workflows", "apply", str(path))
    assert created.code == 0, created.stderr

    again = await docflow(env, "workflows", "apply", str(path))

    assert again.code == 0, again.stderr
    assert "'greeter' unchanged" in again.stdout and "still version 1" in again.stdout
    status, listed = await stack.call("GET", "/workflows")
    assert status == 200 and [w["version"] for w in listed["items"]] == [1]
    path.write_text(json.dumps({**WORKFLOW, "description": "now changed"}))
    changed = await docflow(env, "workflows", "apply", str(path))
    assert "'greeter' updated" in changed.stdout and "version 2" in changed.stdout


async def test_workflows_list_shows_each_workflow_and_its_version(
    stack: Stack, env: dict[str, str]
) -> None:
    status, workflow = await stack.call("POST", "/workflows", json=WORKFLOW)
    assert status == 201

    listed = await docflow(env, "workflows", "list")

    assert listed.code == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["WORKFLOW", "NAME", "VERSION", "UPDATED"]
    assert row.split()[:3] == [workflow["id"], "greeter", "1"]


async def test_a_list_piped_into_a_reader_that_left_ends_without_a_traceback(
    stack: Stack, env: dict[str, str]
) -> None:
    status, workflow = await stack.call("POST", "/workflows", json=WORKFLOW)
    assert status == 201
    for _ in range(3):
        assert (await stack.call("POST", f"/workflows/{workflow['id']}/executions", json={}))[
            0
        ] == 202
    # `| head` that already read its lines: the pipe's reading end is closed.
    read_end, write_end = os.pipe()
    os.close(read_end)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "executions",
        "list",
        env=env,
        stdout=write_end,
        stderr=asyncio.subprocess.PIPE,
    )
    os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), 30)

    assert "Traceback" not in err.decode() and "BrokenPipeError" not in err.decode(), err
    assert process.returncode == 141


async def test_show_says_whom_a_paused_gate_waits_on_and_how_long_it_waited(
    stack: Stack, env: dict[str, str]
) -> None:
    status, workflow = await stack.call("POST", "/workflows", json=GATE)
    assert status == 201
    _, started = await stack.call("POST", f"/workflows/{workflow['id']}/executions", json={})
    execution_id = started["execution_id"]

    async def shown() -> str:
        return (await docflow(env, "executions", "show", execution_id)).stdout

    paused = await eventually(shown, lambda out: "paused" in out and "waiting   ok" in out)

    assert "waiting   ok on approval by Carol <carol@example.com>" in paused, paused
    [gate_row] = [line for line in paused.splitlines() if line.startswith("ok ")]
    assert gate_row.split()[3:5] == ["waiting", "waiting"], gate_row
    decided, _ = await stack.call(
        "POST",
        f"/executions/{execution_id}/gates/ok/decisions",
        json={"approver": "carol@example.com", "decision": "approve"},
    )
    assert decided == 200
    done = await eventually(shown, lambda out: "completed" in out.splitlines()[0])
    [gate_row] = [line for line in done.splitlines() if line.startswith("ok ")]
    assert gate_row.split()[3:5] == ["completed", "waited"], gate_row
    assert " 0 ms" not in gate_row
