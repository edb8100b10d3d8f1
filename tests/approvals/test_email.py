"""E-mails: each approver gets a link at a real SMTP server, reminders reach only those still
pending, and without SMTP the e-mail is printed with its link."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType
from services.executor.nodes.registry import core_node_types
from services.executor.worker import ExecutorWorker
from services.gateway.app import create_app
from services.notifier.worker import Notifier
from services.scheduler.worker import Scheduler
from shared.nodes.base import NodeConfig
from shared.runtime import open_resources
from shared.settings import Settings
from tests.approvals.support import (
    DEAL,
    LINK,
    Harness,
    RecordingTransport,
    approvals_of,
    approvers,
    gate_workflow,
    text_of,
)
from tests.notifier.support import Mailbox, free_port
from tests.support import eventually, seed_workflow, start_execution, wait_for_status

PUBLIC_URL = "https://approvals.docflow.test"


class DocumentsConfig(NodeConfig):
    pass


class DocumentsNode(NodeType):
    """Stands in for the document generator: two documents in the context."""

    type_name: ClassVar[str] = "test-documents"
    config_model = DocumentsConfig

    async def run(self, call: NodeCall) -> NodeResult:
        documents = [
            {"name": "Contract.pdf", "url": "https://files.example/contract.pdf"},
            {"title": "Pricing deck", "download_url": "https://files.example/deck.pdf"},
        ]
        return Completed(context=call.context.model_copy(update={"generated_documents": documents}))


@dataclass
class MailHarness:
    harness: Harness
    mailbox: Mailbox


class LinkScanner(Mailbox):
    """A mail gateway that opens every approval link the moment its e-mail arrives, before it
    accepts the e-mail, as link scanners in front of corporate mailboxes do."""

    def __init__(self) -> None:
        super().__init__()
        #: Set once the gateway serves: where the links' pages are.
        self.gateway_url = ""
        #: The page's status for each link, in the order the e-mails came.
        self.opened: list[int] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        email = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(email, EmailMessage)
        link = LINK.search(text_of(email))
        assert link is not None
        # The server's own thread and loop: a session of its own.
        async with aiohttp.ClientSession() as http:
            page = await http.get(f"{self.gateway_url}/approve/{link['token']}")
            self.opened.append(page.status)
        return await super().handle_DATA(server, session, envelope)


@contextlib.asynccontextmanager
async def running_mail(settings: Settings, mailbox: Mailbox) -> AsyncIterator[MailHarness]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "public_url": PUBLIC_URL}
    )
    try:
        async with open_resources(settings) as resources:
            executor = ExecutorWorker(resources, [*core_node_types(), DocumentsNode()])
            notifier = Notifier(resources)
            scheduler = Scheduler(resources)
            for worker in (executor, notifier, scheduler):
                await worker.start()
            try:
                async with (
                    TestClient(TestServer(create_app(resources))) as client,
                    aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,
                ):
                    harness = Harness(resources, client, RecordingTransport(), browser)
                    yield MailHarness(harness, mailbox)
            finally:
                for worker in (scheduler, notifier, executor):
                    await worker.stop()
    finally:
        controller.stop()


@pytest.fixture
async def mail(pg_settings: Settings) -> AsyncIterator[MailHarness]:
    async with running_mail(pg_settings, Mailbox()) as running:
        yield running


def with_documents(**gate: Any) -> dict[str, Any]:
    definition = gate_workflow(**gate)
    nodes = definition["nodes"]
    nodes.insert(1, {"id": "docs", "type": "test-documents", "position": 1, "config": {}})
    for position, node in enumerate(nodes):
        node["position"] = position
    return definition


async def received(mailbox: Mailbox, count: int) -> list[tuple[list[str], EmailMessage]]:
    async def enough() -> bool:
        return len(mailbox.received) >= count

    await eventually(enough)
    return mailbox.received[:count]


async def test_each_approver_receives_a_working_link_at_the_smtp_server(
    mail: MailHarness,
) -> None:
    resources = mail.harness.resources
    definition = with_documents(
        strategy="quorum",
        required=2,
        message="Please review the {{ source.deal.name }} renewal.",
        details={"Deal": "{{ source.deal.name }}", "Amount": "{{ source.deal.amount }}"},
    )
    workspace_id, workflow_id = await seed_workflow(resources, definition, validate=False)
    execution_id = await start_execution(resources, workspace_id, workflow_id, DEAL)

    emails = await received(mail.mailbox, 3)

    assert sorted(rcpt[0] for rcpt, _ in emails) == [f"approver{i}@example.com" for i in range(3)]
    tokens = {}
    for rcpt, email in emails:
        text = text_of(email)
        html_part = email.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        html = str(html_part.get_content())
        assert email["Subject"] == "Approve ACME renewal"
        for body in (text, html):
            assert "deal approval" in body  # the workflow
            assert "Please review the ACME renewal renewal." in body
            assert "Contract.pdf" in body and "https://files.example/deck.pdf" in body
            assert "2 of 3 approvers must approve" in body
        match = LINK.search(text)
        assert match and match.group(0).startswith(f"{PUBLIC_URL}/approve/")
        assert match.group(0) in html
        tokens[rcpt[0]] = match["token"]

    status, page, _ = await mail.harness.open_page(tokens["approver0@example.com"])
    assert status == 200
    assert "Contract.pdf" in page and "ACME renewal" in page and "1200" in page
    for i in (0, 2):
        assert await mail.harness.click(tokens[f"approver{i}@example.com"], "approve") == 200
    done = await wait_for_status(resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["approvals"]["gate"]["outcome"] == "approved"


async def test_reminders_reach_only_pending_approvers_no_more_often_than_configured(
    mail: MailHarness,
) -> None:
    harness = mail.harness
    definition = gate_workflow(strategy="all", reminder_every="1s")
    workspace_id, workflow_id = await seed_workflow(harness.resources, definition)
    execution_id = await start_execution(harness.resources, workspace_id, workflow_id, DEAL)
    first = await received(mail.mailbox, 3)
    tokens = {rcpt[0]: LINK.search(text_of(e))["token"] for rcpt, e in first}  # type: ignore[index]  # the link is asserted in the test above
    assert await harness.click(tokens["approver0@example.com"], "approve") == 200

    async def reminded_twice() -> bool:
        rows = await approvals_of(harness.resources, execution_id)
        return all(r.reminders_sent >= 2 for r in rows if r.status == "pending")

    await eventually(reminded_twice, within=15)
    rows = {r.email: r for r in await approvals_of(harness.resources, execution_id)}
    reminders = [
        (rcpt[0], e) for rcpt, e in mail.mailbox.received[3:] if e["Subject"].startswith("Reminder")
    ]
    reminded = {address for address, _ in reminders}
    assert "approver0@example.com" not in reminded
    assert reminded == {"approver1@example.com", "approver2@example.com"}
    # No more often than every second: at most one per elapsed second since the gate opened.
    elapsed = (max(r.next_reminder_at for r in rows.values() if r.next_reminder_at)
               - rows["approver1@example.com"].created_at).total_seconds()  # fmt: skip
    for address in reminded:
        assert 2 <= rows[address].reminders_sent <= elapsed
    # A reminder adds a link; the first one keeps working.
    assert await harness.click(tokens["approver1@example.com"], "approve") == 200
    later = LINK.search(text_of(next(e for a, e in reminders if a == "approver2@example.com")))
    assert later is not None
    assert await harness.click(later["token"], "approve") == 200
    done = await wait_for_status(harness.resources, execution_id, "completed")
    assert done.context["approvals"]["gate"]["approved"] == 3


async def test_a_link_opens_the_moment_its_email_arrives(pg_settings: Settings) -> None:
    """Each link is in the database before its e-mail leaves: a scanner that opens it while
    the mail server still holds the e-mail gets the page, never a 404."""
    scanner = LinkScanner()
    async with running_mail(pg_settings, scanner) as mail:
        scanner.gateway_url = str(mail.harness.client.make_url("")).rstrip("/")
        definition = gate_workflow(strategy="all")
        resources = mail.harness.resources
        workspace_id, workflow_id = await seed_workflow(resources, definition)
        await start_execution(resources, workspace_id, workflow_id, DEAL)

        await received(scanner, 3)

    assert scanner.opened == [200, 200, 200]


async def test_without_smtp_the_email_is_printed_with_its_link(
    pg_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_resources(pg_settings) as resources:
        executor, notifier = ExecutorWorker(resources), Notifier(resources)
        await executor.start()
        await notifier.start()
        try:
            definition = gate_workflow(approvers=approvers(1))
            workspace_id, workflow_id = await seed_workflow(resources, definition)
            await start_execution(resources, workspace_id, workflow_id, DEAL)
            printed: list[str] = []

            async def shown() -> bool:
                printed.append(capsys.readouterr().out)
                return LINK.search("".join(printed)) is not None

            await eventually(shown)
        finally:
            await notifier.stop()
            await executor.stop()
    out = "".join(printed)
    match = LINK.search(out)
    assert match is not None
    assert match.group(0).startswith(pg_settings.public_url.rstrip("/") + "/approve/")
    assert "approver0@example.com" in out and "Approve ACME renewal" in out


async def test_the_email_sent_line_of_an_approval_email_names_its_execution(
    harness: Harness,
) -> None:
    with capture_logs(processors=[merge_contextvars]) as lines:
        execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
        await harness.links(1)

        async def logged() -> list[Any]:
            return [line for line in lines if line["event"] == "email_sent"]

        [sent] = await eventually(logged)

    assert sent["execution_id"] == str(execution_id)
