"""From a HubSpot event to `source_data`: the deal, its contacts and company read through the
CRM v3 API with the documented requests."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.runtime import Resources
from tests.support import steps_of, wait_for_status
from tests.triggers.conftest import provider_file, trigger_gateway
from tests.triggers.fake_hubspot import FakeHubSpot
from tests.triggers.support import add_hubspot_connection, deliver, hubspot_workflow

DEAL_BATCH = provider_file("hubspot_deal_batch.json")
SIGNED_AT = 1_700_000_120_000


@pytest.fixture
async def hubspot() -> AsyncIterator[FakeHubSpot]:
    server = await FakeHubSpot().start()
    yield server
    await server.stop()


async def run_won_deal(resources: Resources, hubspot: FakeHubSpot, **trigger: Any) -> str:
    async with trigger_gateway(resources, clock_ms=lambda: SIGNED_AT) as gateway:
        await add_hubspot_connection(gateway, base_url=hubspot.url)
        workflow = hubspot_workflow(
            property_filter={"property": "dealstage", "value": "closedwon"}, **trigger
        )
        workflow["nodes"][1]["config"]["values"] = {
            "line": "{{ source.deal.dealname }} for {{ source.company.name }}: "
            "{{ source.contacts[0].firstname }} <{{ source.contacts[0].email }}>"
        }
        await gateway.create_workflow(workflow)
        response = await deliver(gateway, DEAL_BATCH, timestamp=SIGNED_AT)
        [execution_id] = (await response.json())["executions"]
    return str(execution_id)


async def test_the_trigger_reads_the_deal_its_contacts_and_company_into_the_source(
    trigger_resources: Resources, hubspot: FakeHubSpot
) -> None:
    execution_id = await run_won_deal(trigger_resources, hubspot, properties=["amount"])
    executor = ExecutorWorker(trigger_resources)
    await executor.start()
    try:
        done = await wait_for_status(
            trigger_resources, uuid.UUID(execution_id), "completed", "failed"
        )
    finally:
        await executor.stop()

    assert done.status == "completed", done.error
    source = done.context["source_data"]
    assert source["deal"]["dealname"] == "New deal" and source["deal"]["id"] == "1246990"
    assert [c["email"] for c in source["contacts"]] == ["ana@acme.example"]
    assert source["company"]["name"] == "ACME Ltda"
    assert source["event"]["eventId"] == 3816279501
    assert done.context["node_outputs"]["note"] == {
        "line": "New deal for ACME Ltda: Ana <ana@acme.example>"
    }
    get, contacts, companies = hubspot.requests
    assert (get["method"], get["path"]) == ("GET", "/crm/v3/objects/deals/1246990")
    assert get["query"] == {"associations": "contacts,companies", "properties": "amount"}
    assert get["headers"]["Authorization"] == "Bearer pat-test"
    assert (contacts["method"], contacts["path"]) == ("POST", "/crm/v3/objects/contacts/batch/read")
    assert contacts["json"]["inputs"] == [{"id": "1246965"}]
    assert "email" in contacts["json"]["properties"]
    assert contacts["json"]["propertiesWithHistory"] == []
    assert companies["path"] == "/crm/v3/objects/companies/batch/read"
    assert companies["json"]["inputs"] == [{"id": "5001"}]


async def test_a_rate_limited_crm_read_is_retried_and_then_succeeds(
    trigger_resources: Resources, hubspot: FakeHubSpot
) -> None:
    hubspot.failures = [429]
    execution_id = await run_won_deal(
        trigger_resources, hubspot, retry={"max_attempts": 2, "initial_interval_seconds": 0.2}
    )
    executor, scheduler = ExecutorWorker(trigger_resources), Scheduler(trigger_resources)
    await executor.start()
    await scheduler.start()
    try:
        done = await wait_for_status(
            trigger_resources, uuid.UUID(execution_id), "completed", "failed"
        )
    finally:
        await scheduler.stop()
        await executor.stop()

    assert done.status == "completed", done.error
    steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(trigger_resources, done.id)]
    assert steps[:2] == [("start", 1, "failed"), ("start", 2, "completed")]


async def test_a_deal_hubspot_does_not_know_fails_the_run_without_retrying(
    trigger_resources: Resources, hubspot: FakeHubSpot
) -> None:
    hubspot.failures = [404]
    execution_id = await run_won_deal(trigger_resources, hubspot)
    executor = ExecutorWorker(trigger_resources)
    await executor.start()
    try:
        done = await wait_for_status(
            trigger_resources, uuid.UUID(execution_id), "completed", "failed"
        )
    finally:
        await executor.stop()

    assert done.status == "failed"
    assert done.error is not None and "404" in done.error
    assert len(hubspot.requests) == 1
