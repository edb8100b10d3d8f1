"""Conditional steps on both backends: `when` skips a node (recorded, visible, without side
effects), `on_error: continue` carries on with the error in `errors`, and retry keeps skips."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from services.executor.worker import ExecutorWorker
from services.notifier.worker import Notifier
from shared.broker.topology import RUN
from shared.messages import RetryExecution
from shared.runtime import Resources
from tests.approvals.support import Harness, RecordingTransport, approvals_of
from tests.gateway.conftest import Gateway, running_gateway
from tests.support import (
    Receiver,
    eventually,
    execution_row,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
)

ABOVE_50K = "{{ source.deal.amount > 50000 }}"


def deal_desk_workflow() -> dict[str, Any]:
    """The CFO is asked only above 50,000; the contract says who approved, if anyone."""
    return {
        "name": "deal desk",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {
                "id": "cfo",
                "type": "human-in-loop",
                "position": 1,
                "when": ABOVE_50K,
                "config": {
                    "approvers": [{"email": "cfo@acme.test", "name": "CFO"}],
                    "subject": "Approve {{ source.deal.name }}",
                },
            },
            {
                "id": "contract",
                "type": "set",
                "position": 2,
                "config": {
                    "values": {
                        "approval": "{{ approvals.cfo.outcome if approvals.cfo is defined "
                        "else 'not needed' }}"
                    }
                },
            },
        ],
    }


@dataclass
class DealDesk:
    gateway: Gateway
    approvers: Harness

    async def run(self, workflow_id: str, amount: int) -> str:
        deal = {"deal": {"name": f"deal of {amount}", "amount": amount}}
        accepted = await self.gateway.start(workflow_id, {"trigger_data": deal})
        return str(accepted["execution_id"])

    async def get(self, path: str) -> Any:
        response = await self.gateway.client.get(f"/api/v1{path}", headers=self.gateway.auth)
        assert response.status == 200, await response.text()
        return await response.json()

    async def events(self, execution_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every event of a finished execution's stream, as (name, data)."""
        response = await self.gateway.client.get(
            f"/api/v1/executions/{execution_id}/events", headers=self.gateway.auth
        )
        assert response.status == 200, await response.text()
        events, name = [], ""
        for line in (await response.text()).splitlines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
        return events


@pytest.fixture
async def desk(resources: Resources) -> AsyncIterator[DealDesk]:
    """Gateway, executor and a notifier that records the approval e-mails, on both backends."""
    transport = RecordingTransport()
    executor = ExecutorWorker(resources)
    notifier = Notifier(resources, transport=transport)
    await executor.start()
    await notifier.start()
    try:
        async with (
            running_gateway(resources) as gateway,
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,
        ):
            yield DealDesk(gateway, Harness(resources, gateway.client, transport, browser))
    finally:
        await notifier.stop()
        await executor.stop()


def _skipped_samples(resources: Resources, node_type: str) -> float:
    value = resources.metrics.registry.get_sample_value(
        "docflow_node_duration_seconds_count", {"node_type": node_type, "outcome": "skipped"}
    )
    return value or 0.0


async def test_the_cfo_is_asked_above_50000_and_skipped_below(
    resources: Resources, desk: DealDesk
) -> None:
    workflow_id = str((await desk.gateway.create_workflow(deal_desk_workflow()))["id"])

    big = await desk.run(workflow_id, 80_000)
    [token] = (await desk.approvers.links(1)).values()
    assert await desk.approvers.click(token, "approve") == 200
    big_done = await wait_for_status(resources, uuid.UUID(big), "completed", "failed")
    small = await desk.run(workflow_id, 20_000)
    small_done = await wait_for_status(resources, uuid.UUID(small), "completed", "failed")

    assert big_done.status == "completed", big_done.error
    assert big_done.context["node_outputs"]["contract"] == {"approval": "approved"}
    assert small_done.status == "completed", small_done.error
    assert small_done.context["node_outputs"]["contract"] == {"approval": "not needed"}
    assert "cfo" not in small_done.context["node_outputs"]
    assert small_done.context["skipped"] == ["cfo"]
    # No approver was asked for the small deal: one e-mail, one approval row, both the big one's.
    assert len(desk.approvers.transport.sent) == 1
    assert await approvals_of(resources, uuid.UUID(small)) == []
    assert len(await approvals_of(resources, uuid.UUID(big))) == 1

    big_steps = (await desk.get(f"/executions/{big}"))["steps"]
    small_steps = (await desk.get(f"/executions/{small}"))["steps"]
    assert [(s["node_id"], s["status"]) for s in big_steps] == [
        ("start", "completed"),
        ("cfo", "completed"),
        ("contract", "completed"),
    ]
    assert big_steps[1]["condition"] == {"when": ABOVE_50K, "value": True, "result": True}
    assert [(s["node_id"], s["status"]) for s in small_steps] == [
        ("start", "completed"),
        ("cfo", "skipped"),
        ("contract", "completed"),
    ]
    assert small_steps[1]["condition"] == {"when": ABOVE_50K, "value": False, "result": False}
    assert small_steps[1]["output_summary"] is None

    events = await desk.events(small)
    assert [(name, data.get("node_id")) for name, data in events] == [
        ("node.started", "start"),
        ("node.completed", "start"),
        ("node.skipped", "cfo"),
        ("node.started", "contract"),
        ("node.completed", "contract"),
        ("execution.completed", None),
    ]
    assert events[2][1]["condition"]["value"] is False
    assert _skipped_samples(resources, "human-in-loop") == 1


def _notify_workflow(url: str, *, after: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "maybe notify",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {
                "id": "notify",
                "type": "webhook",
                "position": 1,
                "when": "{{ source.deal.owner == 'outlook' }}",
                "config": {"url": url, "body": {"deal": "{{ source.deal.id }}"}},
            },
            {"id": "after", "type": "set", "position": 2, "config": {"values": after}},
        ],
    }


async def test_a_webhook_whose_when_is_false_makes_no_call_and_one_whose_when_is_true_does(
    resources: Resources, executor: ExecutorWorker, receiver: Receiver
) -> None:
    after = {"status": "{{ nodes.notify.status if nodes.notify is defined else 'skipped' }}"}
    workspace_id, workflow_id = await seed_workflow(
        resources, _notify_workflow(receiver.url, after=after)
    )

    skipped = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"id": 1, "owner": "gmail"}}
    )
    skipped_done = await wait_for_status(resources, skipped, "completed", "failed")
    calls_after_skip = len(receiver.calls)
    called = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"id": 2, "owner": "outlook"}}
    )
    called_done = await wait_for_status(resources, called, "completed", "failed")

    assert calls_after_skip == 0
    assert receiver.keys() == [f"{called}:notify"]
    assert skipped_done.status == called_done.status == "completed"
    assert skipped_done.context["node_outputs"]["after"] == {"status": "skipped"}
    assert called_done.context["node_outputs"]["after"] == {"status": 200}
    steps = [(s.node_id, s.status, s.condition) for s in await steps_of(resources, skipped)]
    assert steps[1] == (
        "notify",
        "skipped",
        {"when": "{{ source.deal.owner == 'outlook' }}", "value": False, "result": False},
    )
    called_steps = await steps_of(resources, called)
    assert [(s.node_id, s.status) for s in called_steps][1] == ("notify", "completed")
    assert called_steps[1].condition is not None and called_steps[1].condition["value"] is True


async def test_a_reference_to_a_skipped_nodes_output_fails_the_node_naming_the_skipped_node(
    resources: Resources, executor: ExecutorWorker, receiver: Receiver
) -> None:
    workflow = _notify_workflow(receiver.url, after={"status": "{{ nodes.notify.status }}"})
    workspace_id, workflow_id = await seed_workflow(resources, workflow)
    execution_id = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"id": 1, "owner": "gmail"}}
    )

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert done.current_node_id == "after"
    assert done.error is not None
    assert "node 'notify' was skipped" in done.error and "is defined" in done.error
    assert receiver.calls == []


async def test_on_error_continue_records_the_error_for_later_whens_once_retries_are_spent(
    resources: Resources, executor: ExecutorWorker, scheduler: object, receiver: Receiver
) -> None:
    receiver.answers = [503, 503]
    workflow = {
        "name": "crm note, if the crm is up",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {
                "id": "crm",
                "type": "webhook",
                "position": 1,
                "on_error": "continue",
                "config": {
                    "url": receiver.url,
                    "retry": {
                        "max_attempts": 2,
                        "initial_interval_seconds": 0.05,
                        "max_interval_seconds": 0.1,
                    },
                },
            },
            {
                "id": "apologise",
                "type": "set",
                "position": 2,
                "when": "{{ errors.crm is defined }}",
                "config": {"values": {"why": "{{ errors.crm.type }}"}},
            },
            {
                "id": "celebrate",
                "type": "set",
                "position": 3,
                "when": "{{ errors.crm is not defined }}",
                "config": {"values": {"ok": True}},
            },
        ],
    }
    workspace_id, workflow_id = await seed_workflow(resources, workflow)
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.error is None
    error = done.context["errors"]["crm"]
    assert error["type"] == "transient" and error["attempts"] == 2
    assert "503" in error["message"]
    assert "crm" not in done.context["node_outputs"]
    assert done.context["node_outputs"]["apologise"] == {"why": "transient"}
    assert done.context["skipped"] == ["celebrate"]
    steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [
        ("start", 1, "completed"),
        ("crm", 1, "failed"),
        ("crm", 2, "failed"),
        ("apologise", 1, "completed"),
        ("celebrate", 1, "skipped"),
    ]
    assert len(receiver.calls) == 2


async def test_without_on_error_continue_the_same_failure_fails_the_run(
    resources: Resources, executor: ExecutorWorker, receiver: Receiver
) -> None:
    receiver.answers = [400]
    workflow = _notify_workflow(receiver.url, after={"x": 1})
    workflow["nodes"][1]["when"] = None
    workspace_id, workflow_id = await seed_workflow(resources, workflow)
    execution_id = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"id": 1, "owner": "x"}}
    )

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed" and done.current_node_id == "notify"
    assert "errors" not in done.context


async def test_a_when_that_cannot_be_evaluated_fails_the_node_or_goes_on_with_on_error_continue(
    resources: Resources, executor: ExecutorWorker, receiver: Receiver
) -> None:
    workflow = _notify_workflow(receiver.url, after={"x": 1})
    workflow["nodes"][1]["when"] = "{{ source.deal.missing > 1 }}"
    workspace_id, workflow_id = await seed_workflow(resources, workflow)
    failing = await start_execution(resources, workspace_id, workflow_id, {"deal": {"id": 1}})
    workflow["nodes"][1]["on_error"] = "continue"
    tolerant_workspace, tolerant_workflow = await seed_workflow(resources, workflow)
    tolerant = await start_execution(resources, tolerant_workspace, tolerant_workflow, {"deal": {}})

    failed = await wait_for_status(resources, failing, "completed", "failed")
    went_on = await wait_for_status(resources, tolerant, "completed", "failed")

    assert failed.status == "failed" and failed.error is not None
    assert "when: " in failed.error and "missing" in failed.error
    assert went_on.status == "completed", went_on.error
    assert went_on.context["errors"]["notify"]["type"] == "template"
    assert receiver.calls == []


async def test_retrying_a_failed_run_keeps_the_skips_made_before_it_failed(
    resources: Resources, executor: ExecutorWorker, receiver: Receiver
) -> None:
    skipped_target = await Receiver().start()
    try:
        receiver.answers = [400]
        workflow = {
            "name": "skip, then fail",
            "nodes": [
                {"id": "start", "type": "trigger", "position": 0},
                {
                    "id": "gmail_hook",
                    "type": "webhook",
                    "position": 1,
                    "when": "{{ source.owner == 'gmail' }}",
                    "config": {"url": skipped_target.url},
                },
                {"id": "call", "type": "webhook", "position": 2, "config": {"url": receiver.url}},
            ],
        }
        workspace_id, workflow_id = await seed_workflow(resources, workflow)
        execution_id = await start_execution(
            resources, workspace_id, workflow_id, {"owner": "outlook"}
        )
        failed = await wait_for_status(resources, execution_id, "completed", "failed")
        assert failed.status == "failed"

        await resources.broker.publish(RUN, RetryExecution(execution_id=execution_id))
        done = await eventually(
            lambda: execution_row(resources, execution_id),
            lambda row: row.version > failed.version and row.status in ("completed", "failed"),
        )

        assert done.status == "completed", done.error
        assert done.context["skipped"] == ["gmail_hook"]
        steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)]
        assert steps == [
            ("start", 1, "completed"),
            ("gmail_hook", 1, "skipped"),
            ("call", 1, "failed"),
            ("call", 2, "completed"),
        ]
        assert skipped_target.calls == []
    finally:
        await skipped_target.stop()


async def test_a_rejected_approval_fails_the_run_even_with_on_error_continue(
    resources: Resources, desk: DealDesk
) -> None:
    workflow = deal_desk_workflow()
    workflow["nodes"][1]["on_error"] = "continue"
    workflow_id = str((await desk.gateway.create_workflow(workflow))["id"])

    execution_id = await desk.run(workflow_id, 80_000)
    [token] = (await desk.approvers.links(1)).values()
    assert await desk.approvers.click(token, "reject") == 200
    done = await wait_for_status(resources, uuid.UUID(execution_id), "completed", "failed")

    # The gate's own rule (on_reject: fail, the default) decides, not on_error.
    assert done.status == "failed"
    assert done.error is not None and "rejected" in done.error
    assert done.current_node_id == "cfo"
    assert "errors" not in done.context
