"""The gateway records an event or a decision without waiting for the log's flush, publishes its
resume at once, and answers only once the commit is on disk (docs/decisions/032).

The answer-after-flush tests hold the gateway's flush: the run must resume meanwhile (the resume
was not held back by the flush) while the client still has no answer (the answer was).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from services.gateway.approvals.decision_sql import _STATEMENTS
from services.gateway.executions.wait_event_sql import RECORD_SQL, Ask, record_arguments
from services.gateway.keys import LOG_FLUSHES
from shared.api_keys import create_api_key
from shared.broker.topology import RESUME
from shared.db import driver
from shared.db.log_flushes import LogFlushes
from shared.db.types import utcnow
from shared.errors import DatabaseUnavailable
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.approvals.support import Api, Harness, approvers, gate_workflow
from tests.events.support import (
    commit_mode,
    event_workflow,
    open_wait,
    post_event,
    running_stack,
    started,
)
from tests.gateway.conftest import Gateway
from tests.support import execution_row, wait_for_status


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Gateway]:
    """The events stack, with the scheduler's outbox relay too slow to publish a resume the
    gateway held back."""
    async with running_stack(settings, outbox_relay_after_seconds=60.0) as gateway:
        yield gateway


def _held(flushes: LogFlushes, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Hold the gateway's flush until the returned event is set."""
    release = asyncio.Event()
    flush = flushes.wait

    async def held() -> None:
        await release.wait()
        await flush()

    monkeypatch.setattr(flushes, "wait", held)
    return release


async def _resumed_before_the_answer(
    resources: Resources,
    flushes: LogFlushes,
    monkeypatch: pytest.MonkeyPatch,
    execution_id: uuid.UUID,
    ask: Callable[[], Coroutine[Any, Any, int]],
) -> int:
    """The run completes while the request's flush is held and the request has no answer;
    the answer's status once the flush is let go."""
    release = _held(flushes, monkeypatch)
    answer = asyncio.create_task(ask())
    done = await wait_for_status(resources, execution_id, "completed", "failed")
    assert done.status == "completed"
    assert not answer.done()
    release.set()
    return await answer


async def test_an_event_resumes_its_run_before_the_flush_and_is_answered_after_it(
    stack: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)

    async def ask() -> int:
        return (await post_event(stack, execution_id, {"po": "PO-7"})).status

    flushes = stack.client.app[LOG_FLUSHES]
    status = await _resumed_before_the_answer(
        stack.resources, flushes, monkeypatch, execution_id, ask
    )

    assert status == 202


async def test_a_decision_resumes_its_gate_before_the_flush_and_is_answered_after_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await create_api_key(harness.resources.sessions, "operators")
    api = Api(harness.client, key)
    execution_id = await api.start(gate_workflow(approvers=approvers(1)))
    await harness.links(1)

    async def ask() -> int:
        status, _ = await api.call(
            "POST",
            f"/executions/{execution_id}/gates/gate/decisions",
            {"approver": "approver0@example.com", "decision": "approve"},
        )
        return status

    flushes = harness.client.app[LOG_FLUSHES]
    status = await _resumed_before_the_answer(
        harness.resources, flushes, monkeypatch, execution_id, ask
    )

    assert status == 200


async def test_a_click_resumes_its_gate_before_the_flush_and_is_answered_after_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    status, _, csrf = await harness.open_page(token)
    assert status == 200 and csrf

    async def ask() -> int:
        posted, _ = await harness.post(token, csrf, "approve")
        return posted

    flushes = harness.client.app[LOG_FLUSHES]
    status = await _resumed_before_the_answer(
        harness.resources, flushes, monkeypatch, execution_id, ask
    )

    assert status == 200


async def test_an_event_is_recorded_without_waiting_for_the_flush(harness: Harness) -> None:
    execution_id = await harness.start(event_workflow())
    await open_wait(harness.resources, execution_id)
    ask = Ask(
        *(execution_id, None, None, "po.confirmed", f"once:{uuid.uuid4()}", "api"),
        *({"po": 7}, utcnow(), True),
    )

    [row], mode = await commit_mode(
        harness.resources, RECORD_SQL, *record_arguments({0: ask}, RESUME)
    )

    assert (row["accepted_id"] is not None, mode) == (True, "off")


async def test_a_decision_is_recorded_without_waiting_for_the_flush(harness: Harness) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    await wait_for_status(harness.resources, execution_id, "paused")
    workspace_id = (await execution_row(harness.resources, execution_id)).workspace_id
    template = json.dumps({"reason": "approval"})

    [row], mode = await commit_mode(
        harness.resources,
        _STATEMENTS["approver"],
        *("approved", "", utcnow(), None, None, RESUME, template, None),
        *(workspace_id, execution_id, "gate", "approver0@example.com"),
    )

    assert (row["won_id"] is not None, mode) == (True, "off")


async def test_a_flush_puts_every_earlier_commit_on_disk(pg_settings: Settings) -> None:
    """A commit that did not wait is on disk once `wait()` returns. (Without the flush it
    would be written by PostgreSQL's WAL writer, within its 200 ms `wal_writer_delay`.)"""
    async with open_resources(pg_settings) as resources:
        engine = resources.engine
        row = await driver.fetchrow(
            engine,
            "SELECT set_config('synchronous_commit', 'off', true),"
            " pg_logical_emit_message(true, 'docflow.test', '')::text AS lsn",
        )

        await LogFlushes(engine).wait()

        on_disk = await driver.fetchrow(
            engine, "SELECT pg_current_wal_flush_lsn() >= $1::text::pg_lsn AS yes", row["lsn"]
        )
        assert on_disk["yes"] is True


def _failing(flushes: LogFlushes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's flush fails as when the database went away after the recording."""

    async def unavailable() -> None:
        raise DatabaseUnavailable("log flush: the database is unavailable")

    monkeypatch.setattr(flushes, "wait", unavailable)


async def test_an_event_whose_flush_fails_is_a_503_that_a_repeat_resolves(
    stack: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    _failing(stack.client.app[LOG_FLUSHES], monkeypatch)

    failed = await post_event(stack, execution_id, {"po": "PO-7"}, key="po-7")
    monkeypatch.undo()
    repeated = await post_event(stack, execution_id, {"po": "PO-7"}, key="po-7")

    problem = await failed.json()
    assert failed.status == 503 and failed.headers["Retry-After"]
    assert "Idempotency-Key" in problem["detail"], problem
    assert repeated.status == 202
    assert (await repeated.json())["repeat"] is True


async def test_a_click_whose_flush_fails_says_so_and_the_link_then_shows_the_decision(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    status, _, csrf = await harness.open_page(token)
    assert status == 200 and csrf
    _failing(harness.client.app[LOG_FLUSHES], monkeypatch)

    posted, page = await harness.post(token, csrf, "approve")
    monkeypatch.undo()
    again, shown, _ = await harness.open_page(token)

    assert posted == 503 and "could not confirm" in page
    assert again == 410 and "recorded before" in shown
