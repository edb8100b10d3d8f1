"""End to end over PostgreSQL and RabbitMQ: a won deal in HubSpot becomes a Word contract and a
PowerPoint deck, e-mailed through Outlook with both attached, every step on record."""

import base64
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from docx import Document as WordDocument
from pptx import Presentation
from pptx.util import Inches

from services.executor.worker import ExecutorWorker
from services.notifier.worker import Notifier
from services.scheduler.worker import Scheduler
from shared.connections.crypto import new_secret_key
from shared.messages import ExecutionEvent
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.email.support import FakeGraph, graph_connection
from tests.gateway.conftest import Gateway
from tests.support import eventually, until_heard
from tests.triggers.conftest import PUBLIC_URL, provider_file, trigger_gateway
from tests.triggers.fake_hubspot import FakeHubSpot
from tests.triggers.support import CLIENT_SECRET, deliver

#: The documented deal batch, signed at this time (hubspot_signature_v3_example.json).
DEAL_BATCH = provider_file("hubspot_deal_batch.json")
SIGNED_AT = 1_700_000_120_000


def contract_template() -> bytes:
    document = WordDocument()
    paragraph = document.add_paragraph("Contract for ")
    paragraph.add_run("{{ customer }}").bold = True
    document.add_paragraph("Deal: {{ source.deal.dealname }}, amount {{ source.deal.amount }}")
    document.add_paragraph("Signed by {{ source.contacts[0].firstname }}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def deck_template() -> bytes:
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    assert slide.shapes.title is not None
    slide.shapes.title.text = "Proposal for {{ customer }}"
    box = slide.shapes.add_textbox(Inches(0.5), Inches(1.5), Inches(8), Inches(1))
    box.text_frame.text = "{{ source.deal.dealname }}: {{ source.deal.amount }}"
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def workflow() -> dict[str, Any]:
    data = {"customer": "{{ source.company.name }}"}
    return {
        "name": "won deal to proposal",
        "nodes": [
            {
                "id": "start",
                "type": "trigger",
                "position": 0,
                "config": {
                    "source": "hubspot",
                    "connection": "crm",
                    "object_type": "deal",
                    "subscription_type": "propertyChange",
                    "property_filter": {"property": "dealstage", "value": "closedwon"},
                },
            },
            {
                "id": "contract",
                "type": "microsoft-word",
                "position": 1,
                "config": {
                    "template": "contract",
                    "filename": "Contract {{ source.deal.dealname }}",
                    "data": data,
                },
            },
            {
                "id": "deck",
                "type": "microsoft-powerpoint",
                "position": 2,
                "config": {
                    "template": "deck",
                    "filename": "Proposal {{ source.deal.dealname }}",
                    "data": data,
                },
            },
            {
                "id": "mail",
                "type": "outlook",
                "position": 3,
                "config": {
                    "connection": "outlook",
                    "to": ["{{ source.contacts[0].email }}"],
                    "subject": "Your contract for {{ source.deal.dealname }}",
                    "html": "<p>Hello {{ source.contacts[0].firstname }},</p>"
                    "<p>the contract and proposal for {{ source.company.name }}.</p>",
                    "attachments": [{"node": "contract"}, {"node": "deck"}],
                },
            },
        ],
    }


async def set_up(gateway: Gateway, hubspot: FakeHubSpot, graph: FakeGraph) -> str:
    async def post(path: str, **kwargs: Any) -> dict[str, Any]:
        response = await gateway.client.post(path, headers=gateway.auth, **kwargs)
        assert response.status == 201, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    await post(
        "/api/v1/connections",
        json={
            "name": "crm",
            "kind": "hubspot",
            "config": {
                "access_token": "pat-test",
                "client_secret": CLIENT_SECRET,
                "base_url": hubspot.url,
            },
        },
    )
    await post(
        "/api/v1/connections",
        json={"name": "outlook", "kind": "microsoft", "config": graph_connection(graph)},
    )
    for name, filename, data in [
        ("contract", "contract.docx", contract_template()),
        ("deck", "deck.pptx", deck_template()),
    ]:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type="application/octet-stream")
        form.add_field("name", name)
        await post("/api/v1/templates", data=form)
    return str((await post("/api/v1/workflows", json=workflow()))["id"])


@pytest.fixture
async def resources(pg_settings: Settings) -> AsyncIterator[Resources]:
    settings = pg_settings.model_copy(
        update={"secret_key": new_secret_key(), "public_url": PUBLIC_URL}
    )
    async with open_resources(settings) as opened:
        yield opened


async def test_a_won_deal_becomes_a_contract_and_deck_emailed_through_outlook(
    resources: Resources,
) -> None:
    hubspot, graph = await FakeHubSpot().start(), await FakeGraph().start()
    seen: list[ExecutionEvent] = []

    async def record(event: ExecutionEvent) -> None:
        seen.append(event)

    workers: list[ExecutorWorker | Notifier | Scheduler] = [
        ExecutorWorker(resources),
        Notifier(resources),
        Scheduler(resources),
    ]
    subscription = await resources.broker.subscribe_events(record, "#")
    try:
        async with trigger_gateway(resources, clock_ms=lambda: SIGNED_AT) as gateway:
            await set_up(gateway, hubspot, graph)
            for worker in workers:
                await worker.start()
            # HubSpot delivers the batch, and delivers it again: one run.
            for _ in range(2):
                response = await deliver(gateway, DEAL_BATCH, timestamp=SIGNED_AT)
                assert response.status == 200, await response.text()
            accepted = await response.json()
            runs = await (
                await gateway.client.get("/api/v1/executions", headers=gateway.auth)
            ).json()
            [run] = runs["items"]
            execution_id = run["id"]

            async def detail() -> dict[str, Any]:
                response = await gateway.client.get(
                    f"/api/v1/executions/{execution_id}", headers=gateway.auth
                )
                body: dict[str, Any] = await response.json()
                return body

            done = await eventually(
                detail, lambda e: e["status"] in ("completed", "failed"), within=60
            )
            if done["status"] == "completed":  # else the steps below say what went wrong
                await until_heard(seen, "node.completed", "mail")
    finally:
        for worker in reversed(workers):
            await worker.stop()
        await subscription.cancel()
        await hubspot.stop()
        await graph.stop()

    assert accepted == {"events": 2, "duplicates": 2, "executions": []}
    assert done["status"] == "completed", done.get("error")
    steps = [(s["node_id"], s["node_type"], s["status"]) for s in done["steps"]]
    assert steps == [
        ("start", "trigger", "completed"),
        ("contract", "microsoft-word", "completed"),
        ("deck", "microsoft-powerpoint", "completed"),
        ("mail", "outlook", "completed"),
    ]
    # Events arrive in batches of one name each; across names, `at` orders them.
    mine = sorted(
        (e for e in seen if e.execution_id == uuid.UUID(execution_id)), key=lambda e: e.at
    )
    assert [(e.event, e.node_id) for e in mine if e.event.startswith("node.")] == [
        ("node.started", "start"),
        ("node.completed", "start"),
        ("node.started", "contract"),
        ("node.completed", "contract"),
        ("node.started", "deck"),
        ("node.completed", "deck"),
        ("node.started", "mail"),
        ("node.waiting", "mail"),
        ("node.completed", "mail"),
    ]
    [sent] = graph.sent
    assert sent["subject"] == "Your contract for New deal"
    assert sent["toRecipients"] == [{"emailAddress": {"address": "ana@acme.example"}}]
    assert "the contract and proposal for ACME Ltda." in sent["body"]["content"]
    files = {a["name"]: base64.b64decode(a["contentBytes"]) for a in sent["attachments"]}
    assert sorted(files) == ["Contract New deal.docx", "Proposal New deal.pptx"]
    contract = WordDocument(io.BytesIO(files["Contract New deal.docx"]))
    text = "\n".join(p.text for p in contract.paragraphs)
    assert "Contract for ACME Ltda" in text and "Deal: New deal, amount 1500.00" in text
    assert "Signed by Ana" in text and "{{" not in text
    deck = Presentation(io.BytesIO(files["Proposal New deal.pptx"]))
    shapes = [s.text_frame.text for s in deck.slides[0].shapes if s.has_text_frame]
    assert "Proposal for ACME Ltda" in shapes and "New deal: 1500.00" in shapes
    outputs = done["context"]["node_outputs"]
    assert outputs["mail"]["status"] == "sent" and outputs["mail"]["server_reply"] == "202 Accepted"
    assert [d["node_id"] for d in done["context"]["generated_documents"]] == ["contract", "deck"]
