"""An `outlook` node pauses until Graph accepted its e-mail, then completes with the receipt."""

import uuid
from typing import Any

from services.executor.nodes.base import NodeType
from services.executor.nodes.registry import core_node_types
from services.executor.worker import ExecutorWorker
from services.notifier.worker import Notifier
from shared.db.tables import Execution
from shared.runtime import Resources
from tests.email.support import (
    FakeGraph,
    MakeFiles,
    SignFiles,
    add_connection,
    graph_connection,
)
from tests.support import seed_workflow, start_execution, steps_of, wait_for_status, waits_of


def workflow() -> dict[str, Any]:
    return {
        "name": "deal to outlook",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "files",
                "type": "make-files",
                "position": 1,
                "config": {"files": {"contract.docx": "contract", "deck.pptx": "deck"}},
            },
            {
                "id": "mail",
                "type": "outlook",
                "position": 2,
                "config": {
                    "connection": "outlook",
                    "to": ["{{ source.email }}"],
                    "subject": "Proposal",
                    "text": "Attached: {{ documents | length }} files.",
                    "attachments": [{"node": "files"}],
                },
            },
        ],
    }


async def _run(
    resources: Resources, graph: FakeGraph, definition: dict[str, Any], files: NodeType
) -> tuple[uuid.UUID, Execution]:
    """Run `definition` to its end with an executor that knows `files` and a notifier."""
    executor = ExecutorWorker(resources, [*core_node_types(), files])
    notifier = Notifier(resources)
    await executor.start()
    await notifier.start()
    try:
        workspace_id, workflow_id = await seed_workflow(resources, definition, validate=False)
        await add_connection(
            resources, workspace_id, "outlook", "microsoft", graph_connection(graph)
        )
        execution_id = await start_execution(
            resources, workspace_id, workflow_id, {"email": "ana@acme.example"}
        )
        done = await wait_for_status(resources, execution_id, "completed", "failed", within=30)
    finally:
        await notifier.stop()
        await executor.stop()
    return execution_id, done


async def test_the_node_waits_for_graphs_202_and_completes_once_a_429_was_retried(
    resources: Resources, graph: FakeGraph
) -> None:
    graph.failures.append((429, {"Retry-After": "1"}, {"error": {"code": "TooManyRequests"}}))
    execution_id, done = await _run(resources, graph, workflow(), MakeFiles(resources))

    assert done.status == "completed", done.error
    output = done.context["node_outputs"]["mail"]
    assert (output["status"], output["server_reply"], output["attempts"]) == (
        "sent",
        "202 Accepted",
        2,
    )
    [sent] = graph.sent
    assert sent["body"] == {"contentType": "Text", "content": "Attached: 2 files."}
    assert sorted(a["name"] for a in sent["attachments"]) == ["contract.docx", "deck.pptx"]
    [wait] = await waits_of(resources, execution_id)
    assert (wait.kind, wait.status) == ("email", "decided")
    assert wait.decision is not None and wait.decision["outcome"] == "sent"
    steps = [(s.node_id, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [("start", "completed"), ("files", "completed"), ("mail", "completed")]


async def test_a_signature_nodes_signed_file_is_attached_by_its_variant(
    resources: Resources, graph: FakeGraph
) -> None:
    definition = workflow()
    definition["nodes"][1] = {
        "id": "sign",
        "type": "sign-files",
        "position": 1,
        "config": {"files": {"contract-signed.pdf": "%PDF signed"}},
    }
    definition["nodes"][2]["config"]["attachments"] = [{"node": "sign", "variant": "signed"}]
    _, done = await _run(resources, graph, definition, SignFiles(resources))

    assert done.status == "completed", done.error
    [sent] = graph.sent
    assert [(a["name"], a["contentType"]) for a in sent["attachments"]] == [
        ("contract-signed.pdf", "application/pdf")
    ]
