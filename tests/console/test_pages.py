"""What the console's pages show and do, read as HTML: the executions list and its filters,
a workflow's versions and what changed, the Run form's refusals, Retry and Cancel, and the
inbox's refusals."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from services.gateway.console.listing import PAGE_SIZE
from shared.broker import topology
from shared.db.tables import (
    Approval,
    Execution,
    SignatureRequest,
    Signer,
    Wait,
    WorkflowVersion,
)
from shared.messages import CancelExecution, RunExecution
from shared.status import ExecutionStatus, WaitStatus
from tests.console.support import post, sign_in
from tests.gateway.conftest import Gateway, definition, take


async def _page(gateway: Gateway, path: str) -> str:
    response = await gateway.client.get(path)
    assert response.status == 200, (path, response.status)
    return await response.text()


async def test_the_executions_list_filters_by_status_workflow_and_start_and_pages(
    gateway: Gateway,
) -> None:
    await sign_in(gateway)
    one = await gateway.create_workflow(definition(name="one"))
    two = await gateway.create_workflow(definition(name="two"))
    runs = [await gateway.start(one["id"]) for _ in range(PAGE_SIZE + 2)]
    other = await gateway.start(two["id"])
    old_failed = uuid.UUID(runs[0]["execution_id"])
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(Execution)
            .where(Execution.id == old_failed)
            .values(status="failed", created_at=datetime(2026, 1, 2, 10, tzinfo=UTC))
        )

    first = await _page(gateway, "/console/executions")
    assert first.count("<tr><td colspan") == 0
    assert first.count("/console/executions/") >= PAGE_SIZE and "Next page" in first
    assert other["execution_id"][:8] in first
    cursor = first.split("cursor=")[1].split('"')[0]
    second = await _page(gateway, f"/console/executions?cursor={cursor}")
    assert str(old_failed)[:8] in second and "Next page" not in second

    failed = await _page(gateway, "/console/executions?status=failed")
    assert str(old_failed)[:8] in failed and other["execution_id"][:8] not in failed
    only_two = await _page(gateway, f"/console/executions?workflow_id={two['id']}")
    assert other["execution_id"][:8] in only_two and str(old_failed)[:8] not in only_two
    january = await _page(
        gateway, "/console/executions?started_from=2026-01-01&started_to=2026-01-02"
    )
    assert str(old_failed)[:8] in january and other["execution_id"][:8] not in january
    # The rows alone, which the page re-reads to show status changes live.
    rows = await _page(gateway, "/console/executions-rows?status=failed")
    assert "<tbody" not in rows and str(old_failed)[:8] in rows
    # A bad filter value is dropped, not an error page.
    assert "<h1>Executions</h1>" in await _page(
        gateway, "/console/executions?status=nope&started_from=yesterday&cursor=zzz"
    )


async def test_a_workflow_shows_its_versions_and_what_changed_between_two(
    gateway: Gateway,
) -> None:
    await sign_in(gateway)
    created = await gateway.create_workflow()
    changed = definition()
    changed["nodes"][1]["config"]["values"]["greeting"] = "hi {{ source.name }}"
    changed["nodes"].append(
        {"id": "extra", "type": "set", "position": 2, "config": {"values": {"x": 1}}}
    )
    response = await gateway.client.put(
        f"/api/v1/workflows/{created['id']}", json=changed, headers=gateway.auth
    )
    assert response.status == 200, await response.text()

    listed = await _page(gateway, "/console/workflows")
    assert "onboarding" in listed and "v2" in listed
    current = await _page(gateway, f"/console/workflows/{created['id']}")
    assert "v2 (current)" in current and "Run v2" in current
    assert "hi {{ source.name }}" in current and "hello {{" not in current
    first = await _page(gateway, f"/console/workflows/{created['id']}/versions/1")
    assert "hello {{ source.name }}" in first and "Run v" not in first
    diff = await _page(gateway, f"/console/workflows/{created['id']}/diff?from=1&to=2")
    assert '<code>greet</code> <span class="status s-changed">changed</span>' in diff
    assert '<code>extra</code> <span class="status s-added">added</span>' in diff
    assert '<span class="del">-' in diff and '<span class="add">+' in diff
    missing = await gateway.client.get(f"/console/workflows/{created['id']}/versions/9")
    assert missing.status == 404


async def test_the_run_form_shows_the_problem_inline_and_starts_nothing(
    gateway: Gateway,
) -> None:
    csrf = await sign_in(gateway)
    created = await gateway.create_workflow()
    run = f"/console/workflows/{created['id']}/run"
    for sent, status, shown in [
        ("{not json", 400, "trigger data is not JSON"),
        ("[1, 2]", 422, "trigger_data: must be a JSON object"),
    ]:
        answer, body, _ = await post(gateway, run, {"csrf": csrf, "trigger_data": sent})
        assert answer == status
        assert 'role="alert"' in body and shown in body
        assert sent.replace('"', "&#34;") in body  # the form keeps what was typed
    async with gateway.resources.sessions() as session:
        assert (await session.scalars(Execution.__table__.select())).first() is None

    answer, _, location = await post(
        gateway, run, {"csrf": csrf, "trigger_data": '{"name": "Ada"}'}
    )
    assert answer == 303 and location.endswith("?done=run")
    execution_id = uuid.UUID(location.split("/")[-1].split("?")[0])
    assert await take(gateway.resources, topology.RUN) == [RunExecution(execution_id=execution_id)]
    page = await _page(gateway, location)
    assert "Run queued." in page and "queued" in page and "&#34;Ada&#34;" in page


async def test_cancel_asks_first_then_stages_the_request_and_refuses_a_finished_run(
    gateway: Gateway,
) -> None:
    csrf = await sign_in(gateway)
    accepted = await gateway.start((await gateway.create_workflow())["id"])
    execution_id = uuid.UUID(accepted["execution_id"])
    await take(gateway.resources, topology.RUN)
    page = f"/console/executions/{execution_id}"
    assert 'href="' + page + '/cancel"' in await _page(gateway, page)
    assert "Yes, cancel it" in await _page(gateway, f"{page}/cancel")

    status, _, location = await post(gateway, f"{page}/cancel", {"csrf": csrf})
    assert (status, location) == (303, f"{page}?done=cancel")
    assert await take(gateway.resources, topology.RUN) == [
        CancelExecution(execution_id=execution_id)
    ]
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(Execution).where(Execution.id == execution_id).values(status="completed")
        )
    status, body, _ = await post(gateway, f"{page}/retry", {"csrf": csrf})
    assert status == 409 and "The run is completed: it cannot be retried." in body
    assert "/cancel" not in await _page(gateway, page)


async def test_the_inbox_says_why_a_gate_could_not_change(gateway: Gateway) -> None:
    csrf = await sign_in(gateway)
    accepted = await gateway.start((await gateway.create_workflow())["id"])
    execution_id = uuid.UUID(accepted["execution_id"])
    async with gateway.resources.sessions.begin() as session:
        session.add(
            Wait(
                execution_id=execution_id,
                node_id="gate",
                kind="approval",
                rule={},
                facts={},
                status=WaitStatus.DECIDED,
                created_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
        await session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(status=ExecutionStatus.PAUSED)
        )
    gate = f"/console/approvals/{execution_id}/gate"
    status, body, _ = await post(gateway, f"{gate}/extend", {"csrf": csrf, "expires_in": "2d"})
    assert status == 409 and "Nothing was changed on gate gate" in body and "decided" in body
    status, body, _ = await post(gateway, f"{gate}/extend", {"csrf": csrf, "expires_in": "soon"})
    assert status == 422 and "is not a duration" in body
    status, body, _ = await post(
        gateway, f"{gate}/reassign", {"csrf": csrf, "from_email": "a@x.com", "to_email": "nope"}
    )
    assert status == 422 and "not valid" in body
    inbox = await _page(gateway, "/console/approvals")
    assert "No gate is waiting on anyone." in inbox


async def test_a_definition_no_longer_valid_is_a_422_on_the_run_form_naming_the_field(
    gateway: Gateway,
) -> None:
    csrf = await sign_in(gateway)
    created = await gateway.create_workflow()
    broken = definition()
    broken["nodes"][1]["config"] = {"values": {}, "surprise": True}
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(WorkflowVersion)
            .where(WorkflowVersion.workflow_id == uuid.UUID(created["id"]))
            .values(definition=broken)
        )
    status, body, _ = await post(
        gateway, f"/console/workflows/{created['id']}/run", {"csrf": csrf, "trigger_data": "{}"}
    )
    assert status == 422
    assert "<code>nodes[1].config.surprise</code>" in body
    async with gateway.resources.sessions() as session:
        assert (await session.scalars(Execution.__table__.select())).first() is None


async def test_a_run_page_lists_its_signers_and_approvers_with_status_and_time(
    gateway: Gateway,
) -> None:
    await sign_in(gateway)
    accepted = await gateway.start((await gateway.create_workflow())["id"])
    execution_id = uuid.UUID(accepted["execution_id"])
    signed_at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    async with gateway.resources.sessions.begin() as session:
        wait = Wait(
            id=uuid.uuid4(), execution_id=execution_id, node_id="gate", kind="approval",
            rule={}, facts={}, status=WaitStatus.OPEN, created_at=signed_at,
        )  # fmt: skip
        session.add(wait)
        request = SignatureRequest(
            id=uuid.uuid4(), workspace_id=gateway.workspace_id, execution_id=execution_id,
            node_id="sign", idempotency_key=f"{execution_id}:sign", provider="clicksign",
            wait_id=uuid.uuid4(), status="pending", rule={"strategy": "all"},
            title="Contract ACME", progress={},
        )  # fmt: skip
        session.add(request)
        await session.flush()
        session.add_all(
            [
                Signer(
                    request_id=request.id, position=0, name="Ada", email="ada@example.com",
                    auth="email", status="signed", acted_at=signed_at,
                ),
                Signer(
                    request_id=request.id, position=1, name="Bob", email="bob@example.com",
                    auth="email", status="pending",
                ),
                Approval(
                    wait_id=wait.id, execution_id=execution_id,
                    workspace_id=gateway.workspace_id, node_id="gate", position=0,
                    email="carol@example.com", name="Carol", status="pending",
                    late=False, created_at=signed_at, notified_at=signed_at, reminders_sent=0,
                ),
            ]
        )  # fmt: skip
    page = await _page(gateway, f"/console/executions/{execution_id}")
    assert "Contract ACME" in page and "clicksign" in page
    assert 'Ada &lt;ada@example.com&gt; <span class="status s-signed">signed</span>' in page
    assert "2026-12-01T09:30:00+00:00" in page
    assert 'Bob &lt;bob@example.com&gt; <span class="status s-pending">pending</span>' in page
    assert "Carol &lt;carol@example.com&gt;" in page
    assert "Waiting on approval from carol@example.com at node <strong>gate</strong>" in page
