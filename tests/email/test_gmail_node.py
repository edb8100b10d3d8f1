"""A `gmail` node end to end on PostgreSQL and RabbitMQ: rendered from the context, sent by the
notifier over STARTTLS with an app password, the node completing only once the server took it."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from services.executor.nodes.registry import core_node_types
from services.executor.worker import ExecutorWorker
from services.notifier.transport import Transports
from services.notifier.worker import Notifier
from shared.runtime import Resources
from tests.email.support import MakeFiles, add_connection
from tests.email.tls import client_context, make_certificate, server_context
from tests.notifier.support import Mailbox, free_port
from tests.support import seed_workflow, start_execution, steps_of, wait_for_status

APP_PASSWORD = "abcd efgh ijkl mnop"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return make_certificate(tmp_path)


@pytest.fixture
def gmail(certificate: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int, list[Any]]]:
    """Like smtp.gmail.com:587: STARTTLS required before AUTH, AUTH required before MAIL."""
    mailbox, logins, port = Mailbox(), [], free_port()

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append((mechanism, data.login, data.password))
        ok = data.login == b"sales@acme.example" and data.password == APP_PASSWORD.encode()
        return AuthResult(success=ok)

    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(*certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield mailbox, port, logins
    finally:
        controller.stop()


@pytest.fixture
async def workers(resources: Resources, certificate: tuple[Path, Path]) -> AsyncIterator[None]:
    executor = ExecutorWorker(resources, [*core_node_types(), MakeFiles(resources)])
    transports = Transports(resources.settings, smtp_tls_context=client_context(certificate[0]))
    notifier = Notifier(resources, transports=transports)
    await executor.start()
    await notifier.start()
    yield
    await notifier.stop()
    await executor.stop()


def workflow(**mail: Any) -> dict[str, Any]:
    config = {
        "connection": "gmail",
        "to": ["{{ source.contact.email }}"],
        "bcc": ["archive@acme.example"],
        "subject": "Contract for {{ source.deal.name }}",
        "html": "<p>Dear {{ source.contact.name }},</p><p>the contract is attached.</p>",
        "attachments": [{"node": "files"}],
        **mail,
    }
    return {
        "name": "deal to gmail",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "files",
                "type": "make-files",
                "position": 1,
                "config": {"files": {"contract.docx": "the contract", "deck.pptx": "the deck"}},
            },
            {"id": "mail", "type": "gmail", "position": 2, "config": config},
        ],
    }


async def run(resources: Resources, port: int, definition: dict[str, Any], email: str) -> Any:
    workspace_id, workflow_id = await seed_workflow(resources, definition, validate=False)
    await add_connection(
        resources,
        workspace_id,
        "gmail",
        "smtp",
        {
            "host": "127.0.0.1",
            "port": port,
            "username": "sales@acme.example",
            "password": APP_PASSWORD,
            "starttls": True,
            "from_address": "sales@acme.example",
        },
    )
    data = {"deal": {"name": "ACME"}, "contact": {"name": "Ana <b>", "email": email}}
    execution_id = await start_execution(resources, workspace_id, workflow_id, data)
    return await wait_for_status(resources, execution_id, "completed", "failed", within=30)


async def test_the_email_with_both_documents_reaches_the_server_once_and_the_node_completes(
    resources: Resources, gmail: tuple[Mailbox, int, list[Any]], workers: None
) -> None:
    mailbox, port, logins = gmail
    done = await run(resources, port, workflow(), "ana@acme.example")

    assert done.status == "completed", done.error
    [(envelope, email)] = mailbox.received
    assert sorted(envelope) == ["ana@acme.example", "archive@acme.example"]
    assert email["From"] == "sales@acme.example" and email["Subject"] == "Contract for ACME"
    assert email["Bcc"] is None
    html = email.get_body(("html",))
    assert html is not None and "Dear Ana &lt;b&gt;," in html.get_content()
    text = email.get_body(("plain",))
    assert text is not None and "Dear Ana <b>," in text.get_content()
    attached = {part.get_filename(): part.get_content() for part in email.iter_attachments()}
    assert attached == {"contract.docx": b"the contract", "deck.pptx": b"the deck"}
    assert logins == [("PLAIN", b"sales@acme.example", APP_PASSWORD.encode())]
    output = done.context["node_outputs"]["mail"]
    assert output["status"] == "sent" and output["server_reply"].startswith("250 ")
    assert output["transport"] == "smtp" and output["message_id"] == email["Message-ID"]
    assert sorted(a["name"] for a in output["attachments"]) == ["contract.docx", "deck.pptx"]
    steps = [(s.node_id, s.status) for s in await steps_of(resources, done.id)]
    assert steps == [("start", "completed"), ("files", "completed"), ("mail", "completed")]


async def test_a_permanent_refusal_fails_the_node_with_the_servers_reason(
    resources: Resources, gmail: tuple[Mailbox, int, list[Any]], workers: None
) -> None:
    mailbox, port, _ = gmail
    mailbox.refuse_recipient["gone@acme.example"] = "550 5.1.1 <gone@acme.example>: No such user"
    done = await run(resources, port, workflow(bcc=[]), "gone@acme.example")

    assert done.status == "failed"
    assert "550 5.1.1" in done.error and "No such user" in done.error
    assert mailbox.received == []


async def test_a_connection_of_the_wrong_kind_fails_the_node_before_anything_is_sent(
    resources: Resources, gmail: tuple[Mailbox, int, list[Any]], workers: None
) -> None:
    mailbox, port, _ = gmail
    done = await run(resources, port, workflow(connection="crm"), "ana@acme.example")
    assert done.status == "failed"
    assert "no connection named 'crm'" in done.error
    done = await run(resources, port, workflow(to=["not an address"]), "ana@acme.example")
    assert done.status == "failed" and "is not an e-mail address" in done.error
    assert mailbox.received == []
