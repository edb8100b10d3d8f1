"""HubSpot events in: verified (v3, 5 minutes), de-duplicated by eventId, one run per match."""

import asyncio

from shared.runtime import Resources
from tests.gateway.conftest import Gateway
from tests.triggers.conftest import now_ms, provider_file, trigger_gateway
from tests.triggers.support import (
    add_hubspot_connection,
    deliver,
    execution_count,
    hubspot_workflow,
    runs_of,
    signature_for,
)

#: deal.creation then deal.propertyChange (dealstage -> closedwon), occurredAt 1700000000000+.
DEAL_BATCH = provider_file("hubspot_deal_batch.json")
#: The documented timestamp the batch file was signed at (hubspot_signature_v3_example.json).
SIGNED_AT = 1_700_000_120_000


async def won_deal_setup(gateway: Gateway) -> str:
    await add_hubspot_connection(gateway)
    workflow = await gateway.create_workflow(
        hubspot_workflow(property_filter={"property": "dealstage", "value": "closedwon"})
    )
    return str(workflow["id"])


async def test_a_signed_event_delivered_five_times_starts_one_execution(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources, clock_ms=lambda: SIGNED_AT + 1000) as gateway:
        workflow_id = await won_deal_setup(gateway)

        first = await deliver(gateway, DEAL_BATCH, timestamp=SIGNED_AT)
        assert first.status == 200, await first.text()
        answer = await first.json()
        # Retries come one after another and also at the same time.
        later = [await deliver(gateway, DEAL_BATCH, timestamp=SIGNED_AT) for _ in range(2)]
        later += await asyncio.gather(
            *(deliver(gateway, DEAL_BATCH, timestamp=SIGNED_AT) for _ in range(2))
        )
        assert [r.status for r in later] == [200] * 4
        repeats = [await r.json() for r in later]

    assert (answer["events"], answer["duplicates"], len(answer["executions"])) == (2, 0, 1)
    assert all(r["executions"] == [] and r["duplicates"] == 2 for r in repeats)
    [run] = await runs_of(trigger_resources, workflow_id)
    assert str(run.id) == answer["executions"][0]
    assert run.status == "queued"
    assert run.idempotency_key == "hubspot:62515:3816279501"
    event = run.trigger_data["hubspot"]["event"]
    assert (event["objectId"], event["propertyValue"]) == (1246990, "closedwon")
    assert run.trigger_data["hubspot"]["connection"] == "crm"


async def test_a_stale_event_is_refused_with_401_and_starts_nothing(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(
        trigger_resources, clock_ms=lambda: SIGNED_AT + 5 * 60_000 + 1
    ) as gw:
        await won_deal_setup(gw)
        response = await deliver(gw, DEAL_BATCH, timestamp=SIGNED_AT)
        problem = await response.json()

    assert response.status == 401
    assert "5 minutes" in problem["detail"]
    assert await execution_count(trigger_resources) == 0


async def test_a_forged_or_unsigned_event_is_refused_with_401_and_starts_nothing(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources) as gateway:
        await won_deal_setup(gateway)
        at = int(now_ms())
        forged = await deliver(gateway, DEAL_BATCH, timestamp=at, secret="not-the-secret")
        tampered_body = DEAL_BATCH.replace(b"closedwon", b"closedlost")
        signed_other = await deliver(gateway, DEAL_BATCH, timestamp=at)
        assert signed_other.status == 200  # the genuine one, to prove the route works
        replayed = await gateway.client.post(
            f"/api/v1/webhooks/hubspot/{gateway.workspace_id}",
            data=tampered_body,
            headers={
                "X-HubSpot-Signature-v3": signature_for(gateway, DEAL_BATCH, at),
                "X-HubSpot-Request-Timestamp": str(at),
            },
        )
        unsigned = await gateway.client.post(
            f"/api/v1/webhooks/hubspot/{gateway.workspace_id}", data=DEAL_BATCH
        )
        statuses = [forged.status, replayed.status, unsigned.status]

    assert statuses == [401, 401, 401]
    assert await execution_count(trigger_resources) == 1


async def test_only_workflows_whose_trigger_matches_the_event_start(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources, clock_ms=lambda: SIGNED_AT) as gateway:
        await add_hubspot_connection(gateway)
        await add_hubspot_connection(gateway, name="other", secret="other-secret")
        created = await gateway.create_workflow(hubspot_workflow(subscription="creation"))
        won = await gateway.create_workflow(
            hubspot_workflow(property_filter={"property": "dealstage", "value": "closedwon"})
        )
        lost = await gateway.create_workflow(
            hubspot_workflow(property_filter={"property": "dealstage", "value": "closedlost"})
        )
        contacts = await gateway.create_workflow(
            hubspot_workflow()
            | {
                "nodes": [
                    {
                        "id": "start",
                        "type": "trigger",
                        "position": 0,
                        "config": {
                            "source": "hubspot",
                            "connection": "crm",
                            "object_type": "contact",
                            "subscription_type": "creation",
                        },
                    }
                ]
            }
        )
        elsewhere = await gateway.create_workflow(hubspot_workflow(connection="other"))
        api = await gateway.create_workflow()

        response = await deliver(gateway, DEAL_BATCH, timestamp=SIGNED_AT)
        assert response.status == 200

    counts = {
        name: len(await runs_of(trigger_resources, str(workflow["id"])))
        for name, workflow in [
            ("created", created),
            ("won", won),
            ("lost", lost),
            ("contacts", contacts),
            ("elsewhere", elsewhere),
            ("api", api),
        ]
    }
    assert counts == {"created": 1, "won": 1, "lost": 0, "contacts": 0, "elsewhere": 0, "api": 0}


async def test_an_event_signed_for_another_workspace_is_refused(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources, clock_ms=lambda: SIGNED_AT) as gateway:
        await won_deal_setup(gateway)
        other = await gateway.as_workspace("globex")
        # Globex has no HubSpot connection: nothing can verify a request on its path.
        response = await deliver(
            gateway, DEAL_BATCH, timestamp=SIGNED_AT, workspace_id=other.workspace_id
        )
        assert response.status == 401
    assert await execution_count(trigger_resources) == 0


async def test_a_body_that_is_not_an_event_array_is_refused_after_the_signature(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources, clock_ms=lambda: SIGNED_AT) as gateway:
        await won_deal_setup(gateway)
        response = await deliver(gateway, b'{"eventId": 1}', timestamp=SIGNED_AT)
        problem = await response.json()
    assert response.status == 422
    assert problem["field"] == "body"
