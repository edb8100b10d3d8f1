"""The client commands against a running gateway: apply, run, list, show, approvals — and an
API error is one clear line on stderr with a non-zero exit."""

import json
import uuid
from pathlib import Path

import yaml

from tests.cli.support import GREETER as WORKFLOW
from tests.cli.support import docflow
from tests.observability.stack import Stack
from tests.observability.support import free_port
from tests.support import eventually


async def test_apply_creates_from_yaml_then_updates_from_json_and_run_starts_it_by_name(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    as_yaml, as_json = tmp_path / "greeter.yaml", tmp_path / "greeter.json"
    as_yaml.write_text(yaml.safe_dump(WORKFLOW))
    changed = {**WORKFLOW, "description": "second version"}
    as_json.write_text(json.dumps(changed))

    created = await docflow(env, "workflows", "apply", str(as_yaml))
    updated = await docflow(env, "workflows", "apply", str(as_json))
    started = await docflow(env, "run", "greeter")

    assert (
        created.code == 0
        and "'greeter' created" in created.stdout
        and "version 1" in created.stdout
    )
    assert (
        updated.code == 0
        and "'greeter' updated" in updated.stdout
        and "version 2" in updated.stdout
    )
    assert started.code == 0, started.stderr
    execution_id = started.stdout.split()[1]
    status, body = await stack.call("GET", f"/executions/{execution_id}")
    assert status == 200 and body["workflow_version"] == 2


async def test_executions_list_and_show_print_what_the_api_holds(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    status, workflow = await stack.call("POST", "/workflows", json=WORKFLOW)
    assert status == 201
    watched = await docflow(env, "run", workflow["id"], "--watch")
    assert watched.code == 0, watched.stderr
    execution_id = watched.stdout.split()[1]

    listed = await docflow(env, "executions", "list")
    shown = await docflow(env, "executions", "show", execution_id)

    assert listed.code == 0 and shown.code == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["EXECUTION", "STATUS", "NODE", "CREATED"]
    assert row.split()[:3] == [execution_id, "completed", "hello"]
    assert f"execution {execution_id}  completed" in shown.stdout
    steps = [
        line.split()[:4]
        for line in shown.stdout.splitlines()
        if line.startswith(("start", "hello"))
    ]
    assert steps == [["start", "trigger", "1", "completed"], ["hello", "set", "1", "completed"]]


async def test_approvals_list_shows_who_is_awaited(stack: Stack, env: dict[str, str]) -> None:
    gate = {
        "name": "gate",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "ok",
                "type": "human-in-loop",
                "position": 1,
                "config": {"approvers": [{"email": "carol@example.com"}]},
            },
        ],
    }
    status, _ = await stack.call("POST", "/workflows", json=gate)
    assert status == 201
    started = await docflow(env, "run", "gate")
    execution_id = started.stdout.split()[1]

    async def pending() -> str:
        return (await docflow(env, "approvals", "list")).stdout

    listed = await eventually(pending, lambda out: execution_id in out)
    header, row = listed.splitlines()
    assert header.split() == ["EXECUTION", "NODE", "APPROVER", "SINCE", "EXPIRES"]
    assert row.split()[:3] == [execution_id, "ok", "carol@example.com"]


async def test_api_errors_are_one_clear_line_and_a_non_zero_exit(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    missing = await docflow(env, "executions", "show", str(uuid.uuid4()))
    unknown = await docflow(env, "run", "no-such-workflow")
    bad_key = await docflow({**env, "DOCFLOW_API_KEY": "wrong"}, "executions", "list")
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(
        yaml.safe_dump({"name": "x", "nodes": [{"id": "a", "type": "nope", "position": 0}]})
    )
    refused = await docflow(env, "workflows", "apply", str(invalid))
    down = await docflow(
        {**env, "DOCFLOW_URL": f"http://127.0.0.1:{free_port()}"}, "executions", "list"
    )

    for result in (missing, unknown, bad_key, refused, down):
        assert result.code == 1
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ")
    assert missing.stderr.startswith("error: 404 Not Found: execution ")
    assert "no workflow named 'no-such-workflow'" in unknown.stderr
    assert bad_key.stderr.startswith("error: 401 Unauthorized: a valid API key is required")
    assert refused.stderr.startswith("error: 422 Unprocessable ")
    assert "cannot reach DocFlow at http://127.0.0.1:" in down.stderr
