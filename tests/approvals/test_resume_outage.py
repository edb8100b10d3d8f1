"""The database drops mid-resume: the run still ends — completed once, or failed with the
reason — and is never left paused or running.

The executor is a real process whose PostgreSQL connections go through a proxy; the proxy
cuts them the moment the executor sends the statement that decides the wait (the resume's
transaction is then half done), keeps the database away for a while, then lets it back.
Gateway, notifier and scheduler run in the test, on direct connections.
"""

import asyncio
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, func, select, update

from services.gateway.app import create_app
from services.gateway.approvals import decisions
from services.gateway.approvals.decisions import ByLink, Recorded
from services.notifier.worker import Notifier
from services.scheduler.worker import Scheduler
from shared.broker.topology import RESUME
from shared.db.tables import ExecutionTransition, OutboxMessage, Wait
from shared.db.types import utcnow
from shared.runtime import Resources
from shared.state_machine.approval_resume_pg import RESUME_APPROVAL_GATES_SQL
from shared.state_machine.resume import DECIDE_AND_CLAIM
from tests.approvals.support import (
    CSRF,
    DEAL,
    Harness,
    RecordingTransport,
    approvers,
    gate_workflow,
    token_in,
)
from tests.proxy import CuttableProxy, executor_behind_proxy
from tests.support import (
    Receiver,
    eventually,
    execution_row,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
    waits_of,
)

#: The statement that decides the gate and claims the run, by the way the resume goes:
#: - an approver's decision on PostgreSQL: one statement settles, decides and claims
#:   (approval_resume_pg.RESUME_APPROVAL_GATES_SQL);
#: - any other fact (`fact`: e.g. the scheduler's stalled-resume sweep): a transaction, cut
#:   after the wait was read, locked and settled (resume.DECIDE_AND_CLAIM): half done.
DECIDING_STATEMENTS = {
    "approval": b"tally AS MATERIALIZED (",
    "fact": b"WITH decided AS (",
}
assert DECIDING_STATEMENTS["approval"].decode() in RESUME_APPROVAL_GATES_SQL
assert DECIDING_STATEMENTS["fact"].decode() in DECIDE_AND_CLAIM.text


def gate_then_webhook(url: str) -> dict[str, Any]:
    return {
        "name": "gate then webhook",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "gate",
                "type": "human-in-loop",
                "position": 1,
                "config": {"approvers": approvers(1), "subject": "Approve"},
            },
            {
                "id": "notify",
                "type": "webhook",
                "position": 2,
                "config": {"url": url, "body": {"seen": "{{ approvals.gate.outcome }}"}},
            },
        ],
    }


#: How long after a decision the scheduler resumes a run whose resume was lost, here.
STALLED_AFTER_SECONDS = 2.0


def quick_scheduler(resources: Resources) -> Scheduler:
    settings = resources.settings.model_copy(
        update={"stalled_resume_after_seconds": STALLED_AFTER_SECONDS}
    )
    return Scheduler(dataclasses.replace(resources, settings=settings))


@pytest.fixture
async def scheduler(resources: Resources) -> AsyncIterator[Scheduler]:
    worker = quick_scheduler(resources)
    await worker.start()
    yield worker
    await worker.stop()


@dataclass
class Stage:
    resources: Resources
    proxy: CuttableProxy
    gateway: TestClient[Any, Any]
    transport: RecordingTransport


@pytest.fixture
async def stage(resources: Resources) -> AsyncIterator[Stage]:
    transport = RecordingTransport()
    notifier, scheduler = Notifier(resources, transport=transport), quick_scheduler(resources)
    async with executor_behind_proxy(resources.settings, ready_on=RESUME) as proxy:
        await notifier.start()
        await scheduler.start()
        try:
            async with TestClient(TestServer(create_app(resources))) as gateway:
                yield Stage(resources, proxy, gateway, transport)
        finally:
            await scheduler.stop()
            await notifier.stop()


async def approve(stage: Stage) -> None:
    [email] = await eventually(lambda: _sent(stage.transport))
    token = token_in(email)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:

        async def csrf() -> re.Match[str] | None:
            # The e-mail is handed over inside the delivery's transaction: the link works a
            # moment later, once its token row is committed.
            async with browser.get(stage.gateway.make_url(f"/approve/{token}")) as page:
                return CSRF.search(await page.text())

        match = await eventually(csrf)
        assert match is not None
        async with browser.post(
            stage.gateway.make_url(f"/approve/{token}"),
            data={"csrf": match["csrf"], "decision": "approve"},
            headers={"Cookie": f"docflow_csrf={match['csrf']}"},
        ) as decided:
            assert decided.status == 200, await decided.text()


async def _sent(transport: RecordingTransport) -> list[Any]:
    return list(transport.sent)


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


@pytest.mark.slow
@pytest.mark.parametrize("reason", sorted(DECIDING_STATEMENTS))
@pytest.mark.parametrize(
    "outage_seconds",
    [
        # The redelivered resume finds the database back.
        1.0,
        # Longer than the resume message's redeliveries last (delivery limit 3, a pause of
        # 1 s before each requeue): the message alone cannot carry the resume through.
        6.0,
    ],
)
async def test_the_database_dropping_mid_resume_leaves_the_run_completed_once(
    stage: Stage,
    receiver: Receiver,
    outage_seconds: float,
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = stage.resources
    workspace_id, workflow_id = await seed_workflow(resources, gate_then_webhook(receiver.url))
    execution_id = await start_execution(resources, workspace_id, workflow_id, DEAL)
    await wait_for_status(resources, execution_id, "paused")
    staged = decisions._resume
    # The gateway stages its resume with the reason under test.
    monkeypatch.setattr(
        decisions, "_resume", lambda *args: staged(*args).model_copy(update={"reason": reason})
    )
    stage.proxy.cut_when_sent(DECIDING_STATEMENTS[reason])

    await approve(stage)
    await asyncio.wait_for(stage.proxy.tripped.wait(), timeout=20)
    # The database is away for the executor (only) for this long: an outage, not a state to
    # wait for.
    await asyncio.sleep(outage_seconds)
    await stage.proxy.restore()

    done = await wait_for_status(resources, execution_id, "completed", "failed", within=45)
    assert done.status == "completed", done.error
    assert await resumes(resources, execution_id) == 1
    assert receiver.keys() == [f"{execution_id}:notify"]
    [wait] = await waits_of(resources, execution_id)
    assert wait.status == "decided"
    steps = [(s.node_id, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [("start", "completed"), ("gate", "completed"), ("notify", "completed")]


async def test_a_decided_gate_whose_resume_message_was_lost_is_resumed_by_the_scheduler(
    harness: Harness, scheduler: Scheduler
) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(2), strategy="any"))
    links = await harness.links(2)
    # Recorded as the gateway records it; its resume is published, then lost (dead-lettered
    # while the executor could not reach the database): the outbox row is gone.
    recorded = await decisions.record(
        harness.resources.sessions,
        ByLink(links["approver1@example.com"]),
        decision="approved",
        comment=None,
        client_ip=None,
        user_agent=None,
        now=utcnow(),
    )
    assert isinstance(recorded, Recorded) and recorded.staged is not None
    async with harness.resources.sessions.begin() as session:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id == recorded.staged.id))

    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["approvals"]["gate"]["outcome"] == "approved"
    assert await resumes(harness.resources, execution_id) == 1


async def test_an_undecided_gate_is_not_resumed_by_the_scheduler(
    harness: Harness, scheduler: Scheduler
) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(2), strategy="all"))
    links = await harness.links(2)
    assert await harness.click(links["approver0@example.com"], "approve") == 200
    await harness.settled_without_decision(1)
    seen = harness.resumes_without_decision()
    passes = scheduler.passes

    # An absence takes waiting: until the decision is older than the threshold and the duty
    # (paced at the same period) has certainly looked again, then a few passes more.
    await asyncio.sleep(2 * STALLED_AFTER_SECONDS)
    await eventually(lambda: _passes(scheduler), lambda n: n >= passes + 5, within=20)

    assert harness.resumes_without_decision() == seen
    assert (await execution_row(harness.resources, execution_id)).status == "paused"


async def test_a_fired_deadline_whose_resume_was_lost_is_fired_again(
    harness: Harness, scheduler: Scheduler
) -> None:
    execution_id = await harness.start(
        gate_workflow(approvers=approvers(1), expires_in=3600, on_timeout="approve")
    )
    await harness.links(1)
    # The deadline passed and the scheduler fired it, but the resume never arrived.
    long_ago = utcnow() - timedelta(minutes=5)
    async with harness.resources.sessions.begin() as session:
        await session.execute(
            update(Wait)
            .where(Wait.execution_id == execution_id)
            .values(expires_at=long_ago, fired_at=long_ago)
        )

    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert (done.context["approvals"]["gate"]["by"]) == "timeout"
    assert await resumes(harness.resources, execution_id) == 1


async def _passes(scheduler: Scheduler) -> int:
    return scheduler.passes
