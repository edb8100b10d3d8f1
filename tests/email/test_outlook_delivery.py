"""The notifier sends through Microsoft Graph: a client-credentials token, `sendMail` with file
attachments, a draft with upload sessions for large ones, and honest retries."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.notifier.worker import Notifier
from shared.broker.topology import EMAIL, RESUME
from shared.messages import EmailAttachment, ResumeExecution, SendEmail
from shared.runtime import Resources
from tests.email.support import (
    DOCX,
    PPTX,
    FakeGraph,
    add_connection,
    add_document,
    add_signed_document,
    graph_connection,
)
from tests.gateway.conftest import take
from tests.notifier.support import delivery, delivery_status
from tests.support import seed_workflow, start_execution

WORKFLOW = {
    "name": "mail",
    "nodes": [{"id": "start", "type": "trigger", "position": 0, "config": {}}],
}


@pytest.fixture
async def notifier(resources: Resources) -> AsyncIterator[Notifier]:
    worker = Notifier(resources)
    await worker.start()
    yield worker
    await worker.stop()


async def execution_with_files(
    resources: Resources, graph: FakeGraph, files: dict[str, tuple[str, bytes]]
) -> tuple[uuid.UUID, uuid.UUID, list[dict[str, Any]]]:
    workspace_id, workflow_id = await seed_workflow(resources, WORKFLOW)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    await add_connection(resources, workspace_id, "outlook", "microsoft", graph_connection(graph))
    documents = [
        await add_document(
            resources,
            workspace_id=workspace_id,
            execution_id=execution_id,
            node_id="docs",
            name=name,
            content_type=kind,
            content=content,
        )
        for name, (kind, content) in files.items()
    ]
    return workspace_id, execution_id, documents


def outlook_email(
    workspace_id: uuid.UUID, execution_id: uuid.UUID, documents: list[dict[str, Any]], **extra: Any
) -> SendEmail:
    return SendEmail(
        idempotency_key=f"{execution_id}:mail",
        to=["ana@acme.example"],
        cc=["legal@acme.example"],
        bcc=["audit@contoso.example"],
        subject="Your contract",
        text="Please find the contract attached.",
        html="<p>Please find the contract attached.</p>",
        workspace_id=workspace_id,
        execution_id=execution_id,
        connection="outlook",
        attachments=[EmailAttachment(document_id=uuid.UUID(d["id"])) for d in documents],
        **extra,
    )


async def test_an_email_with_two_attachments_goes_out_as_one_documented_sendmail_call(
    resources: Resources, graph: FakeGraph, notifier: Notifier
) -> None:
    files = {"contract.docx": (DOCX, b"PK contract"), "deck.pptx": (PPTX, b"PK deck")}
    workspace_id, execution_id, documents = await execution_with_files(resources, graph, files)
    message = outlook_email(workspace_id, execution_id, documents)

    await resources.broker.publish(EMAIL, message)
    await delivery_status(resources, message.idempotency_key, "sent")

    token, mail = graph.requests
    assert (token["method"], token["path"]) == ("POST", "/contoso/oauth2/v2.0/token")
    assert token["form"] == {
        "client_id": "app-id",
        "client_secret": "graph-secret",
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    }
    assert (mail["method"], mail["path"]) == ("POST", "/v1.0/users/sales@contoso.example/sendMail")
    assert mail["headers"]["Authorization"] == "Bearer token-1"
    assert mail["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(mail["body"])
    assert body["saveToSentItems"] is True
    sent = body["message"]
    assert sent["subject"] == "Your contract"
    assert sent["body"] == {
        "contentType": "HTML",
        "content": "<p>Please find the contract attached.</p>",
    }
    assert sent["toRecipients"] == [{"emailAddress": {"address": "ana@acme.example"}}]
    assert sent["ccRecipients"] == [{"emailAddress": {"address": "legal@acme.example"}}]
    assert sent["bccRecipients"] == [{"emailAddress": {"address": "audit@contoso.example"}}]
    assert sent["attachments"] == [
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "contract.docx",
            "contentType": DOCX,
            "contentBytes": base64.b64encode(b"PK contract").decode(),
        },
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "deck.pptx",
            "contentType": PPTX,
            "contentBytes": base64.b64encode(b"PK deck").decode(),
        },
    ]
    row = await delivery(resources, message.idempotency_key)
    assert row is not None
    assert (row.attempts, row.transport, row.server_reply) == (1, "graph", "202 Accepted")


async def test_a_signed_document_is_attached_like_a_generated_one(
    resources: Resources, graph: FakeGraph, notifier: Notifier
) -> None:
    workspace_id, execution_id, documents = await execution_with_files(
        resources, graph, {"contract.docx": (DOCX, b"PK contract")}
    )
    signed = await add_signed_document(
        resources,
        workspace_id=workspace_id,
        execution_id=execution_id,
        node_id="sign",
        filename="contract-signed.pdf",
        content=b"%PDF signed",
    )
    message = outlook_email(workspace_id, execution_id, [*documents, signed])

    await resources.broker.publish(EMAIL, message)
    await delivery_status(resources, message.idempotency_key, "sent")

    _, mail = graph.requests
    attached = json.loads(mail["body"])["message"]["attachments"]
    assert [(a["name"], a["contentType"]) for a in attached] == [
        ("contract.docx", DOCX),
        ("contract-signed.pdf", "application/pdf"),
    ]
    assert attached[1]["contentBytes"] == base64.b64encode(b"%PDF signed").decode()


async def test_a_429_is_retried_no_sooner_than_its_retry_after(
    resources: Resources, graph: FakeGraph, notifier: Notifier
) -> None:
    graph.failures.append(
        (429, {"Retry-After": "2"}, {"error": {"code": "TooManyRequests", "message": "Slow down"}})
    )
    workspace_id, execution_id, documents = await execution_with_files(
        resources, graph, {"contract.docx": (DOCX, b"PK")}
    )
    message = outlook_email(workspace_id, execution_id, documents)

    await resources.broker.publish(EMAIL, message)
    await delivery_status(resources, message.idempotency_key, "sent")

    first, second = graph.mail_requests()
    # The back-off alone would retry after 0.2 s (the test settings); Retry-After wins.
    assert second["at"] - first["at"] >= 2.0
    assert len(graph.sent) == 1
    row = await delivery(resources, message.idempotency_key)
    assert row is not None and row.attempts == 2
    assert row.last_error is not None and "429" in row.last_error and "Slow down" in row.last_error


async def test_a_refusal_fails_the_email_with_graphs_reason_and_tells_the_waiting_node(
    resources: Resources, graph: FakeGraph, notifier: Notifier
) -> None:
    graph.failures.append(
        (
            400,
            {},
            {
                "error": {
                    "code": "ErrorInvalidRecipients",
                    "message": "At least one recipient is not valid.",
                }
            },
        )
    )
    workspace_id, execution_id, documents = await execution_with_files(
        resources, graph, {"contract.docx": (DOCX, b"PK")}
    )
    wait_id = uuid.uuid4()
    message = outlook_email(workspace_id, execution_id, documents, wait_id=wait_id)

    await resources.broker.publish(EMAIL, message)
    await delivery_status(resources, message.idempotency_key, "failed")

    row = await delivery(resources, message.idempotency_key)
    assert row is not None and row.attempts == 1
    assert row.last_error is not None and "ErrorInvalidRecipients" in row.last_error
    assert len(graph.mail_requests()) == 1
    [resume] = await take(resources, RESUME)
    assert resume == ResumeExecution(execution_id=execution_id, wait_id=wait_id, reason="fact")


async def test_large_attachments_go_through_a_draft_and_an_upload_session(
    resources: Resources, graph: FakeGraph, notifier: Notifier
) -> None:
    big = bytes(range(256)) * (14 * 1024)  # 3.5 MiB: over Graph's 3 MB line
    files = {"contract.docx": (DOCX, b"PK small"), "deck.pptx": (PPTX, big)}
    workspace_id, execution_id, documents = await execution_with_files(resources, graph, files)
    message = outlook_email(workspace_id, execution_id, documents)

    await resources.broker.publish(EMAIL, message)
    await delivery_status(resources, message.idempotency_key, "sent")

    calls = [
        (r["method"], r["path"].replace("/v1.0/users/sales@contoso.example", ""))
        for r in graph.mail_requests()
    ]
    assert calls == [
        ("POST", "/messages"),
        ("POST", "/messages/AAMk0/attachments"),
        ("POST", "/messages/AAMk0/attachments/createUploadSession"),
        ("PUT", calls[3][1]),
        ("PUT", calls[4][1]),
        ("POST", "/messages/AAMk0/send"),
    ]
    draft = json.loads(graph.mail_requests()[0]["body"])
    assert "attachments" not in draft and draft["subject"] == "Your contract"
    session = json.loads(graph.mail_requests()[2]["body"])
    assert session == {
        "AttachmentItem": {
            "attachmentType": "file",
            "name": "deck.pptx",
            "size": len(big),
            "contentType": PPTX,
        }
    }
    puts = [r for r in graph.mail_requests() if r["method"] == "PUT"]
    assert all("Authorization" not in r["headers"] for r in puts)
    assert puts[0]["headers"]["Content-Length"] == "3276800"
    assert puts[0]["headers"]["Content-Range"] == f"bytes 0-3276799/{len(big)}"
    [upload] = graph.uploads.values()
    assert bytes(upload) == big
    [sent] = graph.sent
    assert sent["attachments"][0]["contentBytes"] == base64.b64encode(b"PK small").decode()
