"""After runs, each service's own /metrics shows its counters and histograms moved by exactly
what happened: executions and nodes on the executor, requests and webhooks on the gateway,
e-mails on the notifier, waits, queues and the outbox on the scheduler."""

import uuid
from typing import Any

from shared.broker.topology import EMAIL
from shared.messages import SendEmail
from shared.settings import Settings
from tests.observability.stack import STUB_WEBHOOK, Samples, Stack, service_stack, value
from tests.observability.support import gates
from tests.support import eventually


def completing(url: str) -> dict[str, Any]:
    return {
        "name": "completes",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "price", "type": "set", "position": 1, "config": {"values": {"n": 1}}},
            {"id": "nap", "type": "delay", "position": 2, "config": {"seconds": 0.3}},
            {"id": "tell", "type": "webhook", "position": 3, "config": {"url": f"{url}/tell"}},
        ],
    }


FAILING = {
    "name": "fails",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {"id": "oops", "type": "set", "position": 1, "config": {"values": {"n": "{{ 1 / 0 }}"}}},
    ],
}


async def _run(stack: Stack, definition: dict[str, Any]) -> tuple[str, str]:
    status, workflow = await stack.call("POST", "/workflows", json=definition)
    assert status == 201, workflow
    status, accepted = await stack.call(
        "POST", f"/workflows/{workflow['id']}/executions", json={"trigger_data": {}}
    )
    assert status == 202, accepted
    return workflow["id"], accepted["execution_id"]


async def _finished(stack: Stack, execution_id: str) -> str:
    async def status() -> str:
        _, body = await stack.call("GET", f"/executions/{execution_id}")
        return str(body["status"])

    return await eventually(status, lambda s: s in {"completed", "failed"}, within=30)


async def test_each_service_reports_what_it_did_on_its_own_metrics_endpoint(
    pg_settings: Settings,
) -> None:
    async with gates() as target, service_stack(pg_settings) as stack:
        completes, first = await _run(stack, completing(target.url))
        fails, second = await _run(stack, FAILING)
        assert await _finished(stack, first) == "completed"
        assert await _finished(stack, second) == "failed"
        await stack.resources["executor"].broker.publish(
            EMAIL,
            SendEmail(
                idempotency_key=f"{uuid.uuid4()}:mail", to=["a@example.com"], subject="hi", text="x"
            ),
        )
        webhook = STUB_WEBHOOK.format(workspace_id=stack.workspace_id).removeprefix("/api/v1")
        assert (await stack.call("POST", webhook))[0] == 202
        assert (await stack.call("POST", webhook, headers={"Authorization": "Bearer nope"}))[
            0
        ] == 401
        notifier = await eventually(
            lambda: stack.scrape("notifier"),
            lambda s: value(s, "docflow_emails_total", outcome="printed") == 1,
        )
        # The scheduler refreshes its gauges on its own clock: wait for a refresh after the runs.
        scheduler = await eventually(
            lambda: stack.scrape("scheduler"),
            lambda s: (
                value(s, "docflow_queue_consumers", queue="executions.run") == 1
                and value(s, "docflow_waits_open", kind="timer") == 0
            ),
        )
        executor = await stack.scrape("executor")
        gateway = await stack.scrape("gateway")

    assert value(executor, "docflow_executions_started_total", workflow_id=completes) == 1
    assert value(executor, "docflow_executions_started_total", workflow_id=fails) == 1
    finished = "docflow_executions_finished_total"
    assert value(executor, finished, workflow_id=completes, status="completed") == 1
    assert value(executor, finished, workflow_id=fails, status="failed") == 1
    assert value(executor, finished, workflow_id=completes, status="failed") == 0
    nodes = "docflow_node_duration_seconds_count"
    assert value(executor, nodes, node_type="trigger", outcome="completed") == 2
    assert value(executor, nodes, node_type="set", outcome="completed") == 1
    assert value(executor, nodes, node_type="set", outcome="failed") == 1
    # The delay node: once when it opened its wait, once when the timer resumed it.
    assert value(executor, nodes, node_type="delay", outcome="wait") == 1
    assert value(executor, nodes, node_type="delay", outcome="completed") == 1
    assert value(executor, nodes, node_type="webhook", outcome="completed") == 1
    assert value(executor, "docflow_resume_latency_seconds_count", kind="timer") == 1
    assert value(executor, "docflow_resume_latency_seconds_sum", kind="timer") < 10
    handled = "docflow_messages_handled_total"
    assert value(executor, handled, queue="executions.run", outcome="handled") == 2
    assert value(executor, handled, queue="executions.resume", outcome="handled") == 1
    assert value(executor, "docflow_claim_conflicts_total", stage="run") == 0

    requests = "docflow_http_requests_total"
    assert value(gateway, requests, route="/api/v1/workflows", method="POST", status="201") == 2
    start_route = "/api/v1/workflows/{workflow_id}/executions"
    assert value(gateway, requests, route=start_route, method="POST", status="202") == 2
    assert (
        value(
            gateway,
            "docflow_http_request_duration_seconds_count",
            route=start_route,
            method="POST",
        )
        == 2
    )
    webhooks = "docflow_webhook_events_total"
    assert value(gateway, webhooks, provider="stub-provider", outcome="accepted") == 1
    assert value(gateway, webhooks, provider="stub-provider", outcome="rejected") == 1
    # Each service reports only its own work.
    assert not _moved(gateway, "docflow_executions")
    assert not _moved(executor, "docflow_http")

    assert value(notifier, "docflow_emails_total", outcome="printed") == 1

    assert value(scheduler, "docflow_queue_consumers", queue="notifications.email") == 1
    for queue in ("executions.run", "executions.resume", "notifications.email"):
        assert value(scheduler, "docflow_queue_messages", queue=queue) == 0
        assert ("docflow_dead_letter_messages", frozenset({("queue", queue)})) in scheduler
    for kind in ("approval", "signature", "timer", "retry"):
        assert ("docflow_waits_open", frozenset({("kind", kind)})) in scheduler
    assert value(scheduler, "docflow_outbox_backlog") == 0


def _moved(samples: Samples, prefix: str) -> list[str]:
    """Samples under `prefix` that are not 0 (`_created` holds a timestamp, not a count)."""
    return [
        name
        for (name, _), number in samples.items()
        if name.startswith(prefix) and not name.endswith("_created") and number
    ]
