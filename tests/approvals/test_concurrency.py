"""Races run for real: many POSTs on one link, many approvers at once, page views first."""

import asyncio
import uuid

from sqlalchemy import func, select

from shared.db.tables import ExecutionTransition
from shared.runtime import Resources
from tests.approvals.support import Harness, approvals_of, approvers, gate_workflow
from tests.support import eventually, execution_row, steps_of, wait_for_status


async def resumes(resources: Resources, execution_id: uuid.UUID) -> int:
    async with resources.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(
                ExecutionTransition.execution_id == execution_id,
                ExecutionTransition.from_status == "paused",
                ExecutionTransition.to_status == "running",
            )
        )
    return int(count or 0)


async def test_fifty_concurrent_posts_on_one_link_record_exactly_one_decision(
    harness: Harness,
) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    status, _, csrf = await harness.open_page(token)
    assert status == 200 and csrf

    answers = await asyncio.gather(
        *(
            harness.post(token, csrf, "approve" if i % 2 else "reject", f"click {i}")
            for i in range(50)
        )
    )

    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 410}
    assert any("Already decided" in html for status, html in answers if status == 409) or (
        statuses.count(410) == 49
    )
    [approval] = await approvals_of(harness.resources, execution_id)
    winner = next(html for status, html in answers if status == 200)
    assert f"recorded: {approval.status}" in winner
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")
    assert await resumes(harness.resources, execution_id) == 1
    assert done.status == ("completed" if approval.status == "approved" else "failed")


async def test_fifty_approvers_of_a_quorum_of_one_clicking_at_once_resume_the_run_once(
    harness: Harness,
) -> None:
    execution_id = await harness.start(
        gate_workflow(approvers=approvers(50), strategy="quorum", required=1)
    )
    links = await harness.links(50)
    pages = await asyncio.gather(*(harness.open_page(token) for token in links.values()))
    csrfs = [csrf or "" for _, _, csrf in pages]
    assert all(csrfs)

    answers = await asyncio.gather(
        *(
            harness.post(token, csrf, "approve")
            for token, csrf in zip(links.values(), csrfs, strict=True)
        )
    )

    assert [status for status, _ in answers] == [200] * 50
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert await resumes(harness.resources, execution_id) == 1
    assert [s.node_id for s in await steps_of(harness.resources, execution_id)] == [
        "start",
        "gate",
        "after",
    ]
    rows = await approvals_of(harness.resources, execution_id)
    assert [row.status for row in rows] == ["approved"] * 50
    # Every click is recorded; those the decision did not count are marked late, and none
    # is both counted and late.
    decision = done.context["approvals"]["gate"]
    counted = [row for row in rows if not row.late]
    assert decision["approved"] == len(counted) >= 1
    assert sum("answer was recorded but did not change" in html for _, html in answers) == (
        50 - len(counted)
    )


async def test_twenty_page_views_before_the_post_decide_nothing(harness: Harness) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()

    views = await asyncio.gather(
        *(harness.browser.get(harness.client.make_url(f"/approve/{token}")) for _ in range(10)),
        *(harness.browser.head(harness.client.make_url(f"/approve/{token}")) for _ in range(10)),
    )

    assert [view.status for view in views] == [200] * 20
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"
    assert (await execution_row(harness.resources, execution_id)).status == "paused"
    assert harness.resumes_without_decision() == 0
    assert await resumes(harness.resources, execution_id) == 0

    assert await harness.click(token, "approve") == 200
    done = await wait_for_status(harness.resources, execution_id, "completed")
    assert done.context["approvals"]["gate"]["outcome"] == "approved"


async def test_a_late_decision_is_recorded_and_changes_nothing(harness: Harness) -> None:
    execution_id = await harness.start(gate_workflow(strategy="any"))
    links = await harness.links(3)
    assert await harness.click(links["approver0@example.com"], "approve") == 200
    done = await wait_for_status(harness.resources, execution_id, "completed")

    status, html, csrf = await harness.open_page(links["approver1@example.com"])
    assert status == 200 and csrf
    assert "already been decided" in html
    posted, answer = await harness.post(links["approver1@example.com"], csrf, "reject", "too late")
    assert posted == 200
    assert "did not change the outcome" in answer

    rows = {row.email: row for row in await approvals_of(harness.resources, execution_id)}
    late = rows["approver1@example.com"]
    assert (late.status, late.late, late.comment) == ("rejected", True, "too late")
    await eventually(lambda: execution_row(harness.resources, execution_id))
    after = await execution_row(harness.resources, execution_id)
    assert (after.status, after.version, after.context) == (
        "completed",
        done.version,
        done.context,
    )
