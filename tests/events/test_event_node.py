"""The `event` node: a run waits for a named external event, delivered by the API or through the
wait's resume URL, exactly once, on both backends."""

import asyncio
import json
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select, text

from shared.broker.topology import RESUME
from shared.db.tables import Base, WaitEvent
from shared.messages import EventArrived, ResumeExecution
from shared.resume_urls import resume_token
from tests.events.support import (
    completed_steps,
    event_workflow,
    events_of,
    open_wait,
    post_event,
    started,
    transitions_of,
)
from tests.gateway.conftest import Gateway
from tests.gateway.documented import answer_content, served_document, violations
from tests.support import Receiver, eventually, steps_of, wait_for_status, waits_of


async def _resume_path(gateway: Gateway, execution_id: uuid.UUID) -> str:
    response = await gateway.client.get(f"/api/v1/executions/{execution_id}", headers=gateway.auth)
    detail = await response.json()
    [wait] = [w for w in detail["waits"] if w["kind"] == "event"]
    assert wait["name"] == "po.confirmed"
    return urlsplit(str(wait["resume_url"])).path


async def test_an_event_posted_by_the_api_resumes_the_run_with_its_payload(
    stack: Gateway,
) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)

    response = await post_event(stack, execution_id, {"po": "PO-7", "lines": 3})

    assert response.status == 202, await response.text()
    body = await response.json()
    assert body["status"] == "accepted" and body["repeat"] is False
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["po"] == {"po": "PO-7", "lines": 3}
    assert done.context["node_outputs"]["after"] == {"seen": {"po": "PO-7", "lines": 3}}
    [wait] = await waits_of(stack.resources, execution_id)
    assert wait.status == "decided"


async def test_a_webhook_before_the_wait_hands_out_a_resume_url_that_resumes_it(
    stack: Gateway, receiver: Receiver
) -> None:
    hand_out = {
        "id": "tell-erp",
        "type": "webhook",
        "config": {"url": receiver.url, "body": {"callback": "{{ waits.po.resume_url }}"}},
    }
    execution_id = await started(stack, event_workflow(before=[hand_out]))
    await open_wait(stack.resources, execution_id)
    [call] = receiver.calls
    url = json.loads(call["body"])["callback"]
    assert url == await _resume_url(stack, execution_id)

    response = await stack.client.post(urlsplit(url).path, json={"confirmed": True})

    assert response.status == 202, await response.text()
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["po"] == {"confirmed": True}
    [event] = await events_of(stack.resources, execution_id)
    assert (event.via, event.status) == ("url", "accepted")


async def _resume_url(gateway: Gateway, execution_id: uuid.UUID) -> str:
    response = await gateway.client.get(f"/api/v1/executions/{execution_id}", headers=gateway.auth)
    [wait] = [w for w in (await response.json())["waits"] if w["kind"] == "event"]
    url = str(wait["resume_url"])
    return url


async def test_an_execution_at_its_event_node_and_after_it_is_read_as_the_document_says(
    stack: Gateway,
) -> None:
    """Found by the fuzzer: an `event` wait's kind, name and resume URL, and the delivered
    events, were not in the documented answer (`kind` refused "event")."""
    document = await served_document(stack)
    schema = answer_content(document, "getExecution", 200)["application/json"]["schema"]
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    path = f"/api/v1/executions/{execution_id}"
    waiting = await (await stack.client.get(path, headers=stack.auth)).json()
    assert (await post_event(stack, execution_id, {"po": 1})).status == 202
    await wait_for_status(stack.resources, execution_id, "completed")
    done = await (await stack.client.get(path, headers=stack.auth)).json()

    [wait] = waiting["waits"]
    assert (wait["kind"], wait["name"], wait["resume_url"] is not None) == (
        "event",
        "po.confirmed",
        True,
    )
    [event] = done["events"]
    assert (event["via"], event["status"]) == ("api", "accepted")
    assert violations(document, schema, waiting) == []
    assert violations(document, schema, done) == []


async def test_an_event_that_arrives_before_the_wait_opens_is_applied_when_it_opens(
    stack: Gateway,
) -> None:
    hold = {"id": "hold", "type": "delay", "config": {"seconds": 1}}
    execution_id = await started(stack, event_workflow(before=[hold]))

    response = await post_event(stack, execution_id, {"early": True})

    assert response.status == 202, await response.text()
    assert not [w for w in await waits_of(stack.resources, execution_id) if w.kind == "event"]
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["po"] == {"early": True}


async def test_a_repeated_delivery_gets_the_first_answer_and_resumes_nothing_again(
    stack: Gateway,
) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)

    first = await post_event(stack, execution_id, {"n": 1}, key="erp-123")
    await wait_for_status(stack.resources, execution_id, "completed", "failed")
    again = await post_event(stack, execution_id, {"n": 2}, key="erp-123")

    assert (first.status, again.status) == (202, 202)
    first_body, again_body = await first.json(), await again.json()
    assert again_body["repeat"] is True
    assert again_body["event_id"] == first_body["event_id"]
    assert len(await events_of(stack.resources, execution_id)) == 1
    assert await completed_steps(stack.resources, execution_id, "po") == 1
    done = await wait_for_status(stack.resources, execution_id, "completed")
    assert done.context["node_outputs"]["po"] == {"n": 1}


async def test_a_repeated_call_of_a_resume_url_gets_the_first_answer(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    path = await _resume_path(stack, execution_id)

    first = await stack.client.post(path, json={"n": 1})
    await wait_for_status(stack.resources, execution_id, "completed", "failed")
    again = await stack.client.post(path, json={"n": 2})

    assert (first.status, again.status) == (202, 202)
    assert (await again.json())["repeat"] is True
    assert len(await events_of(stack.resources, execution_id)) == 1
    assert await completed_steps(stack.resources, execution_id, "po") == 1


async def test_an_event_after_the_wait_decided_is_recorded_late_and_answered_409(
    stack: Gateway,
) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    path = await _resume_path(stack, execution_id)
    assert (await post_event(stack, execution_id, {"n": 1})).status == 202
    await wait_for_status(stack.resources, execution_id, "completed", "failed")

    late = await post_event(stack, execution_id, {"n": 2})
    late_by_url = await stack.client.post(path, json={"n": 3})

    assert late.status == 409
    assert late.content_type == "application/problem+json"
    assert (await late.json())["status"] == 409
    assert late_by_url.status == 409
    events = await events_of(stack.resources, execution_id)
    assert [e.status for e in events] == ["accepted", "late", "late"]
    done = await wait_for_status(stack.resources, execution_id, "completed")
    assert done.context["node_outputs"]["po"] == {"n": 1}


async def test_an_expired_wait_fails_the_run_when_on_timeout_is_fail(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow({"expires_in": 0.3}))

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert "po.confirmed" in (done.error or "") and "did not arrive" in (done.error or "")
    [wait] = await waits_of(stack.resources, execution_id)
    assert wait.status == "expired"
    assert (await post_event(stack, execution_id, {"n": 1})).status == 409


async def test_an_expired_wait_goes_on_with_no_payload_when_on_timeout_is_continue(
    stack: Gateway,
) -> None:
    execution_id = await started(
        stack, event_workflow({"expires_in": 0.3, "on_timeout": "continue"})
    )

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["po"] is None
    [wait] = await waits_of(stack.resources, execution_id)
    assert wait.status == "expired"


async def test_a_payload_that_does_not_match_the_schema_is_refused_with_422(
    stack: Gateway,
) -> None:
    schema = {
        "type": "object",
        "required": ["po"],
        "properties": {"po": {"type": "string"}},
    }
    execution_id = await started(stack, event_workflow({"schema": schema}))
    await open_wait(stack.resources, execution_id)

    refused = await post_event(stack, execution_id, {"po": 7})
    accepted = await post_event(stack, execution_id, {"po": "PO-7"})

    assert refused.status == 422
    problem = await refused.json()
    assert problem["errors"][0]["field"] == "payload"
    assert accepted.status == 202
    [event] = await events_of(stack.resources, execution_id)
    assert event.payload == {"po": "PO-7"}


async def test_fifty_concurrent_deliveries_resume_the_run_once(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)

    answers = await asyncio.gather(*(post_event(stack, execution_id, {"n": n}) for n in range(50)))

    statuses = sorted(a.status for a in answers)
    assert statuses == [202] + [409] * 49
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    [winner] = [a for a in answers if a.status == 202]
    winning = [e for e in await events_of(stack.resources, execution_id) if e.status == "accepted"]
    assert [e.id for e in winning] == [(await winner.json())["event_id"]]
    assert done.context["node_outputs"]["po"] == winning[0].payload
    assert await completed_steps(stack.resources, execution_id, "po") == 1
    assert await completed_steps(stack.resources, execution_id, "after") == 1


async def test_fifty_concurrent_repeats_of_one_key_all_get_the_first_answer(
    stack: Gateway,
) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)

    answers = await asyncio.gather(
        *(post_event(stack, execution_id, {"n": 1}, key="same") for _ in range(50))
    )

    assert {a.status for a in answers} == {202}
    bodies = [await a.json() for a in answers]
    assert len({b["event_id"] for b in bodies}) == 1
    assert sum(1 for b in bodies if not b["repeat"]) == 1
    await wait_for_status(stack.resources, execution_id, "completed")
    assert await completed_steps(stack.resources, execution_id, "po") == 1


async def test_another_workspace_gets_404_and_records_nothing(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    other = await stack.as_workspace("rival")

    response = await post_event(other, execution_id, {"n": 1})
    unknown_name = await post_event(stack, execution_id, {"n": 1}, name="nope")

    assert response.status == 404
    assert unknown_name.status == 404
    assert await events_of(stack.resources, execution_id) == []


async def test_a_resume_url_with_a_wrong_token_names_nothing(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    path = await _resume_path(stack, execution_id)
    forged = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
    other_node = path.replace("/po/", "/after/")

    assert (await stack.client.post(forged, json={})).status == 404
    assert (await stack.client.post(other_node, json={})).status == 404
    assert await events_of(stack.resources, execution_id) == []


async def test_the_resume_token_is_stored_nowhere_in_plain_text(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    path = await _resume_path(stack, execution_id)
    token = path.rsplit("/", 1)[1]
    assert token == resume_token(stack.resources.settings.secret_key, execution_id, "po")
    assert (await stack.client.post(path, json={"ok": 1})).status == 202
    await wait_for_status(stack.resources, execution_id, "completed")

    dumped: list[str] = []
    async with stack.resources.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            dumped.extend(repr(tuple(row)) for row in await conn.execute(select(table)))
        if conn.dialect.name == "postgresql":
            # Tables outside the models (alembic's) too.
            names = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            for (name,) in names.all():
                rows = await conn.execute(text(f'SELECT t::text FROM "{name}" AS t'))
                dumped.extend(row[0] for row in rows)

    assert dumped
    assert not [row for row in dumped if token in row]


async def test_get_or_head_of_a_resume_url_decides_nothing(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    path = await _resume_path(stack, execution_id)

    got = await stack.client.get(path)
    head = await stack.client.head(path)

    assert got.status == 405 and head.status == 405
    assert await events_of(stack.resources, execution_id) == []
    [wait] = await waits_of(stack.resources, execution_id)
    assert wait.status == "open"
    row = await wait_for_status(stack.resources, execution_id, "paused")
    assert row.status == "paused"


async def test_two_event_nodes_of_one_workflow_cannot_share_a_name(stack: Gateway) -> None:
    definition = event_workflow()
    definition["nodes"].append(
        {"id": "po2", "type": "event", "position": 9, "config": {"name": "po.confirmed"}}
    )

    response = await stack.client.post("/api/v1/workflows", json=definition, headers=stack.auth)

    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "nodes[3].config.name"


async def test_a_resume_message_delivered_several_times_at_once_resumes_the_run_once(
    stack: Gateway,
) -> None:
    execution_id = await started(stack, event_workflow())
    wait = await open_wait(stack.resources, execution_id)
    assert (await post_event(stack, execution_id, {"n": 1})).status == 202
    again = ResumeExecution(execution_id=execution_id, wait_id=wait.id, reason="event")

    await asyncio.gather(*(stack.resources.broker.publish(RESUME, again) for _ in range(5)))

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    transitions = await transitions_of(stack.resources, execution_id)
    assert transitions.count(("paused", "running")) == 1
    assert await completed_steps(stack.resources, execution_id, "po") == 1
    assert await completed_steps(stack.resources, execution_id, "after") == 1


async def test_an_event_node_that_ends_the_workflow_completes_the_run_with_its_payload(
    stack: Gateway,
) -> None:
    definition = event_workflow()
    definition["nodes"] = definition["nodes"][:-1]  # no node after the wait
    execution_id = await started(stack, definition)
    await open_wait(stack.resources, execution_id)

    assert (await post_event(stack, execution_id, {"last": True})).status == 202

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["po"] == {"last": True}
    [step] = [s for s in await steps_of(stack.resources, execution_id) if s.node_id == "po"]
    assert (step.status, step.output_summary) == ("completed", {"output": {"last": True}})


async def test_the_event_step_keeps_the_payload_as_its_output_summary(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    big = {f"k{n}": "x" * 100 for n in range(40)}

    assert (await post_event(stack, execution_id, big)).status == 202

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    [step] = [s for s in await steps_of(stack.resources, execution_id) if s.node_id == "po"]
    assert step.status == "completed"
    assert step.output_summary is not None and step.output_summary["truncated"] is True
    assert step.output_summary["keys"] == list(big)


async def test_a_payload_the_database_cannot_store_is_refused_with_422(stack: Gateway) -> None:
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)

    refused = await stack.client.post(
        f"/api/v1/executions/{execution_id}/events/po.confirmed",
        data=b'{"note": "a\\u0000b"}',
        headers={**stack.auth, "Content-Type": "application/json"},
    )

    assert refused.status == 422
    assert (await refused.json())["errors"][0]["field"] == "payload"
    assert await events_of(stack.resources, execution_id) == []


async def test_an_event_recorded_unseen_by_the_opening_wait_is_applied_by_event_arrived(
    stack: Gateway,
) -> None:
    """The race an early event can run: recorded while the wait's pause committed, each
    transaction blind to the other, so the wait opened without seeing it."""
    execution_id = await started(stack, event_workflow())
    await open_wait(stack.resources, execution_id)
    registry = stack.resources.metrics.registry

    async def settled_on_open() -> float:
        # The wait's own settle-on-open resume found nothing and was dropped: from now on only
        # EventArrived can resume it.
        value = registry.get_sample_value("docflow_claim_conflicts_total", {"stage": "resume"})
        return value or 0.0

    await eventually(settled_on_open, lambda n: n >= 1)
    async with stack.resources.sessions.begin() as session:
        session.add(
            WaitEvent(
                workspace_id=stack.workspace_id,
                execution_id=execution_id,
                node_id="po",
                name="po.confirmed",
                dedup_key="once:race",
                via="api",
                status="accepted",
                payload={"raced": True},
                wait_id=None,
            )
        )

    await stack.resources.broker.publish(
        RESUME, EventArrived(execution_id=execution_id, node_id="po")
    )

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["po"] == {"raced": True}
