"""`docflow executions show` names what an event wait waits for, and `docflow executions event`
delivers it."""

import json
from pathlib import Path

from tests.cli.support import client_env, docflow
from tests.observability.stack import Stack
from tests.support import eventually

WORKFLOW = {
    "name": "erp-callback",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {"id": "po", "type": "event", "position": 1, "config": {"name": "po.confirmed"}},
    ],
}


async def test_show_names_the_event_and_event_delivers_it_once(
    stack: Stack, tmp_path: Path
) -> None:
    env = client_env(stack.api.removesuffix("/api/v1"), stack.key)
    status, _ = await stack.call("POST", "/workflows", json=WORKFLOW)
    assert status == 201
    execution_id = (await docflow(env, "run", "erp-callback")).stdout.split()[1]
    payload = tmp_path / "po.json"
    payload.write_text(json.dumps({"po": "PO-7"}))

    async def shown() -> str:
        return (await docflow(env, "executions", "show", execution_id)).stdout

    waiting = await eventually(shown, lambda out: "waiting" in out)
    first = await docflow(env, "executions", "event", execution_id, "po.confirmed",
                          "--data", str(payload), "--key", "k1")  # fmt: skip
    again = await docflow(env, "executions", "event", execution_id, "po.confirmed",
                          "--data", str(payload), "--key", "k1")  # fmt: skip
    done = await eventually(shown, lambda out: "completed" in out.splitlines()[0])

    assert "waiting   po on event 'po.confirmed'" in waiting
    assert first.code == 0 and "accepted" in first.stdout and "repeat" not in first.stdout
    assert again.code == 0 and "a repeat" in again.stdout
    _, body = await stack.call("GET", f"/executions/{execution_id}")
    assert body["context"]["node_outputs"]["po"] == {"po": "PO-7"}
    assert "completed" in done
