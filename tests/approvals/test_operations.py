"""Operating open gates over the API, cancelling one, and the audit of who decided what."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.scheduler.worker import Scheduler
from shared.api_keys import create_api_key
from shared.db.types import utcnow
from tests.approvals.support import Api, Harness, approvals_of, approvers, gate_workflow
from tests.support import eventually, execution_row, wait_for_status, waits_of


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[Api]:
    _, key = await create_api_key(harness.resources.sessions, "operators")
    yield Api(harness.client, key)


async def test_pending_approvals_list_who_each_open_gate_waits_on(
    harness: Harness, api: Api
) -> None:
    execution_id = await api.start(gate_workflow(strategy="all", expires_in="2h"))
    links = await harness.links(3)
    assert await harness.click(links["approver1@example.com"], "approve") == 200
    await harness.settled_without_decision(1)

    status, body = await api.call("GET", "/approvals?status=pending")

    assert status == 200
    pending = body["items"]
    assert sorted(item["email"] for item in pending) == [
        "approver0@example.com",
        "approver2@example.com",
    ]
    for item in pending:
        assert item["execution_id"] == str(execution_id)
        assert item["node_id"] == "gate" and item["gate_status"] == "open"
        assert item["since"] and item["expires_at"]
    status, approved = await api.call("GET", "/approvals?status=approved")
    assert [item["email"] for item in approved["items"]] == ["approver1@example.com"]
    other = await api.call("GET", "/approvals?status=maybe")
    assert other[0] == 422


async def test_extend_moves_the_deadline_so_the_gate_does_not_time_out(
    harness: Harness, api: Api, scheduler: Scheduler
) -> None:
    execution_id = await api.start(gate_workflow(approvers=approvers(1), expires_in=3))
    [token] = (await harness.links(1)).values()

    status, gate = await api.call(
        "POST", f"/executions/{execution_id}/gates/gate/extend", {"expires_in": "1h"}
    )

    assert status == 200, gate
    assert gate["status"] == "open"
    [wait] = await waits_of(harness.resources, execution_id)
    assert wait.expires_at is not None and wait.expires_at > utcnow() + timedelta(minutes=59)
    # Past the original deadline the run still waits and the link still works.
    target = utcnow() + timedelta(seconds=4)

    async def past_old_deadline() -> bool:
        return utcnow() > target

    await eventually(past_old_deadline, within=10)
    assert (await execution_row(harness.resources, execution_id)).status == "paused"
    assert await harness.click(token, "approve") == 200
    done = await wait_for_status(harness.resources, execution_id, "completed")
    assert done.context["approvals"]["gate"]["by"] == "rule"
    late = await api.call(
        "POST", f"/executions/{execution_id}/gates/gate/extend", {"expires_in": "1h"}
    )
    assert late[0] == 409


async def test_resend_gives_pending_approvers_a_new_link_and_the_old_one_dies(
    harness: Harness, api: Api
) -> None:
    execution_id = await api.start(gate_workflow(strategy="all"))
    old = await harness.links(3)
    assert await harness.click(old["approver0@example.com"], "approve") == 200

    status, gate = await api.call(
        "POST",
        f"/executions/{execution_id}/gates/gate/resend",
        {"approvers": ["approver2@example.com"]},
    )

    assert status == 200 and gate["resent"] == 1
    new = await harness.links(1, after=3)
    assert list(new) == ["approver2@example.com"]
    status, html, _ = await harness.open_page(old["approver2@example.com"])
    assert status == 410 and "replaced" in html
    assert (await harness.open_page(old["approver1@example.com"]))[0] == 200
    assert await harness.click(new["approver2@example.com"], "approve") == 200
    assert await harness.click(old["approver1@example.com"], "approve") == 200
    await wait_for_status(harness.resources, execution_id, "completed")
    refused = await api.call(
        "POST", f"/executions/{execution_id}/gates/gate/resend", {"approvers": ["x@example.com"]}
    )
    assert refused[0] == 409


async def test_reassign_replaces_one_approver_whose_link_dies(harness: Harness, api: Api) -> None:
    execution_id = await api.start(gate_workflow(strategy="all"))
    old = await harness.links(3)

    status, gate = await api.call(
        "POST",
        f"/executions/{execution_id}/gates/gate/reassign",
        {"from": "approver1@example.com", "to": {"email": "deputy@example.com", "name": "Dep"}},
    )

    assert status == 200, gate
    assert [(a["email"], a["status"]) for a in gate["approvers"]] == [
        ("approver0@example.com", "pending"),
        ("approver1@example.com", "replaced"),
        ("deputy@example.com", "pending"),
        ("approver2@example.com", "pending"),
    ]
    new = await harness.links(1, after=3)
    assert list(new) == ["deputy@example.com"]
    status, html, _ = await harness.open_page(old["approver1@example.com"])
    assert status == 410 and "no longer needed" in html
    for token in (old["approver0@example.com"], old["approver2@example.com"]):
        assert await harness.click(token, "approve") == 200
    await harness.settled_without_decision(2)
    assert await harness.click(new["deputy@example.com"], "approve") == 200
    done = await wait_for_status(harness.resources, execution_id, "completed")
    assert done.context["approvals"]["gate"]["approved"] == 3
    again = await api.call(
        "POST",
        f"/executions/{execution_id}/gates/gate/reassign",
        {"from": "approver0@example.com", "to": {"email": "x@example.com"}},
    )
    assert again[0] == 409
    bad = await api.call(
        "POST",
        f"/executions/{execution_id}/gates/gate/reassign",
        {"from": "approver0@example.com", "to": {"email": "not-an-address"}},
    )
    assert bad[0] == 422


async def test_cancelling_a_paused_execution_closes_its_gate_and_links(
    harness: Harness, api: Api
) -> None:
    execution_id = await api.start(gate_workflow())
    links = await harness.links(3)

    status, _ = await api.call("POST", f"/executions/{execution_id}/cancel")

    assert status == 202
    await wait_for_status(harness.resources, execution_id, "cancelled")
    [wait] = await waits_of(harness.resources, execution_id)
    assert wait.status == "cancelled"
    assert {a.status for a in await approvals_of(harness.resources, execution_id)} == {"cancelled"}
    status, _, csrf = await harness.open_page(links["approver0@example.com"])
    assert status == 410 and csrf is None
    assert (await harness.post(links["approver0@example.com"], "x" * 43, "approve"))[0] == 410
    assert (await api.call("GET", "/approvals?status=pending"))[1]["items"] == []


async def test_the_execution_shows_each_approvers_status_decision_time_and_comment(
    harness: Harness, api: Api
) -> None:
    execution_id = await api.start(gate_workflow(strategy="quorum", required=2))
    links = await harness.links(3)
    status, _, csrf = await harness.open_page(links["approver2@example.com"])
    assert csrf
    posted, _ = await harness.post(
        links["approver2@example.com"], csrf, "reject", "not this quarter", **{"User-Agent": "UA/1"}
    )
    assert posted == 200
    assert await harness.click(links["approver0@example.com"], "approve", "ok") == 200

    status, detail = await api.call("GET", f"/executions/{execution_id}")

    assert status == 200
    audit = {a["email"]: a for a in detail["approvals"]}
    rejected = audit["approver2@example.com"]
    assert (rejected["status"], rejected["decision"], rejected["comment"]) == (
        "rejected",
        "rejected",
        "not this quarter",
    )
    assert rejected["decided_at"] and rejected["client_ip"] == "127.0.0.1"
    assert rejected["user_agent"] == "UA/1"
    assert (
        audit["approver0@example.com"]["decision"],
        audit["approver0@example.com"]["comment"],
    ) == (
        "approved",
        "ok",
    )
    assert audit["approver1@example.com"]["status"] == "pending"
    assert audit["approver1@example.com"]["decision"] is None


async def test_a_next_node_that_fails_after_the_resume_leaves_the_run_failed_with_the_reason(
    harness: Harness,
) -> None:
    definition = gate_workflow(approvers=approvers(1))
    definition["nodes"][2]["config"] = {"values": {"x": "{{ source.deal.missing.field }}"}}
    execution_id = await harness.start(definition)
    [token] = (await harness.links(1)).values()
    assert await harness.click(token, "approve") == 200

    done = await wait_for_status(harness.resources, execution_id, "failed", "completed")

    assert done.status == "failed"
    assert done.current_node_id == "after"
    assert done.error is not None and "template error" in done.error
    [wait] = await waits_of(harness.resources, execution_id)
    assert wait.status == "decided"
