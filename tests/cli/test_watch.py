"""`docflow run … --watch` in a terminal: each node as it advances, waits as waiting on whom,
and an exit code that says how the run ended."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings
from tests.cli.support import client_env, docflow, terminal
from tests.observability.stack import Stack, service_stack
from tests.observability.support import gates


@pytest.fixture
async def stack(pg_settings: Settings) -> AsyncIterator[Stack]:
    async with service_stack(pg_settings, workers=("executor", "scheduler")) as running:
        yield running


async def _workflow(stack: Stack, definition: dict[str, Any]) -> str:
    status, body = await stack.call("POST", "/workflows", json=definition)
    assert status == 201, body
    return str(body["id"])


async def test_watch_shows_every_node_completing_in_order_and_exits_0(
    stack: Stack, tmp_path: Path
) -> None:
    data = tmp_path / "deal.json"
    data.write_text(json.dumps({"deal": {"amount": 21}}))
    async with gates() as target:
        await _workflow(
            stack,
            {
                "name": "deal",
                "nodes": [
                    {"id": "start", "type": "trigger", "position": 0, "config": {}},
                    {
                        "id": "double",
                        "type": "set",
                        "position": 1,
                        "config": {"values": {"n": "{{ source.deal.amount * 2 }}"}},
                    },
                    {"id": "nap", "type": "delay", "position": 2, "config": {"seconds": 0.5}},
                    {
                        "id": "tell",
                        "type": "webhook",
                        "position": 3,
                        "config": {"url": target.url + "/t"},
                    },
                ],
            },
        )
        env = client_env(stack.api.removesuffix("/api/v1"), stack.key)
        async with terminal(env, "run", "deal", "--data", str(data), "--watch") as term:
            await term.expect("execution completed")
            code = await term.exit_code()
    assert code == 0, term.screen
    lines = term.screen.splitlines()
    assert lines[0].startswith("execution ") and lines[0].endswith(" queued")
    shown = [line.strip() for line in lines[1:]]
    completed = [line.split()[0] for line in shown if " completed " in line]
    assert completed == ["start", "double", "nap", "tell", "execution"]
    # A wait's node took as long as it waited, not the moment its resume ran.
    [nap] = [line for line in shown if line.startswith("nap completed")]
    assert nap.startswith("nap completed after waiting ") and not nap.endswith(" 0 ms"), nap
    waiting = [line for line in shown if "waiting on" in line]
    assert len(waiting) == 1 and waiting[0].startswith("nap waiting on a timer until ")
    assert shown.index(waiting[0]) < shown.index(
        next(s for s in shown if s.startswith("nap completed"))
    )
    assert target.calls == {"t": 1}


async def test_watch_exits_non_zero_when_the_run_fails(stack: Stack) -> None:
    await _workflow(
        stack,
        {
            "name": "broken",
            "nodes": [
                {"id": "start", "type": "trigger", "position": 0, "config": {}},
                {
                    "id": "oops",
                    "type": "set",
                    "position": 1,
                    "config": {"values": {"n": "{{ 1 / 0 }}"}},
                },
            ],
        },
    )
    env = client_env(stack.api.removesuffix("/api/v1"), stack.key)
    async with terminal(env, "run", "broken", "--watch") as term:
        await term.expect("execution failed")
        code = await term.exit_code()
    assert code == 1
    assert "oops failed: template error" in term.screen
    assert "start completed in" in term.screen


async def test_watch_names_the_approvers_a_run_waits_on_and_fails_when_it_is_cancelled(
    stack: Stack,
) -> None:
    workflow_id = await _workflow(
        stack,
        {
            "name": "gate",
            "nodes": [
                {"id": "start", "type": "trigger", "position": 0, "config": {}},
                {
                    "id": "sign-off",
                    "type": "human-in-loop",
                    "position": 1,
                    "config": {
                        "approvers": [
                            {"email": "alice@example.com", "name": "Alice"},
                            {"email": "bob@example.com"},
                        ],
                        "strategy": "all",
                    },
                },
            ],
        },
    )
    env = client_env(stack.api.removesuffix("/api/v1"), stack.key)
    async with terminal(env, "run", workflow_id, "--watch") as term:
        await term.expect("sign-off waiting on")
        await term.expect("\n")
        execution_id = term.screen.splitlines()[0].split()[1]
        status, _ = await stack.call("POST", f"/executions/{execution_id}/cancel")
        assert status == 202
        await term.expect("execution cancelled")
        code = await term.exit_code()
    assert code == 1
    waiting = next(line for line in term.screen.splitlines() if "waiting on" in line).strip()
    assert waiting.startswith("sign-off waiting on approval by ")
    assert "Alice <alice@example.com>" in waiting and "bob@example.com" in waiting
    assert "2 needed" in waiting


async def test_watch_shows_a_skipped_node_with_its_when_and_apply_warns_of_a_string_when(
    stack: Stack, tmp_path: Path
) -> None:
    definition = tmp_path / "deal.json"
    definition.write_text(
        json.dumps(
            {
                "name": "small deal",
                "nodes": [
                    {"id": "start", "type": "trigger", "position": 0},
                    {
                        "id": "cfo",
                        "type": "set",
                        "position": 1,
                        "when": "{{ source.deal.amount > 50000 }}",
                        "config": {"values": {"asked": True}},
                    },
                    {
                        "id": "loud",
                        "type": "set",
                        "position": 2,
                        "when": "{{ source.deal.amount }} > 50000",
                        "config": {"values": {"shout": True}},
                    },
                ],
            }
        )
    )
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"deal": {"amount": 20000}}))
    env = client_env(stack.api.removesuffix("/api/v1"), stack.key)

    applied = await docflow(env, "workflows", "apply", str(definition))
    async with terminal(env, "run", "small deal", "--data", str(data), "--watch") as term:
        await term.expect("execution completed")
        code = await term.exit_code()

    assert applied.code == 0, applied.stderr
    assert "warning: nodes[2].when: this `when` can only render a string" in applied.stdout
    assert code == 0, term.screen
    shown = [line.strip() for line in term.screen.splitlines()[1:]]
    assert "cfo skipped: {{ source.deal.amount > 50000 }} was False" in shown
    assert not any(line.startswith("cfo started") for line in shown)
    # The string "20000 > 50000" is true: the warning was right.
    assert any(line.startswith("loud completed") for line in shown)
