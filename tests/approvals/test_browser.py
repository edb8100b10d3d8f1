"""An approver in a real headless Chromium: from the e-mail's link to a completed execution."""

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from services.executor.worker import ExecutorWorker
from services.gateway.app import create_app
from services.notifier.worker import Notifier
from shared.runtime import open_resources
from shared.settings import Settings
from tests.approvals.support import DEAL, LINK, approvals_of, approvers, gate_workflow, text_of
from tests.notifier.support import Mailbox, free_port
from tests.support import eventually, seed_workflow, start_execution, wait_for_status

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


@pytest.fixture
def chromium() -> str:
    if not shutil.which(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
async def site(pg_settings: Settings) -> AsyncIterator[tuple[Settings, Mailbox]]:
    """Gateway on a real port (the public URL), executor, notifier to a real SMTP server."""
    mailbox, smtp_port, http_port = Mailbox(), free_port(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = pg_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "public_url": f"http://127.0.0.1:{http_port}",
        }
    )
    try:
        async with open_resources(settings) as resources:
            executor, notifier = ExecutorWorker(resources), Notifier(resources)
            await executor.start()
            await notifier.start()
            runner = web.AppRunner(create_app(resources))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", http_port).start()
            try:
                yield settings, mailbox
            finally:
                await runner.cleanup()
                await notifier.stop()
                await executor.stop()
    finally:
        controller.stop()


async def test_an_approver_clicks_through_the_emailed_link_in_chromium_and_the_run_completes(
    chromium: str, site: tuple[Settings, Mailbox]
) -> None:
    from playwright.async_api import async_playwright

    settings, mailbox = site
    async with open_resources(settings) as resources:
        definition = gate_workflow(
            approvers=approvers(2), details={"Deal": "{{ source.deal.name }}"}
        )
        workspace_id, workflow_id = await seed_workflow(resources, definition)
        execution_id = await start_execution(resources, workspace_id, workflow_id, DEAL)

        async def mailed() -> bool:
            return len(mailbox.received) >= 2

        await eventually(mailed)
        email = next(e for rcpt, e in mailbox.received if rcpt == ["approver0@example.com"])
        match = LINK.search(text_of(email))
        assert match is not None
        link = match.group(0)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844})
                response = await page.goto(link)
                assert response is not None and response.status == 200
                await page.get_by_role("heading", name="Approve ACME renewal").wait_for()
                assert await page.get_by_text("ACME renewal").count() >= 1
                await page.get_by_label("Comment (optional)").fill("Looks good to me")
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "approval-page.png"), full_page=True)
                await page.get_by_role("button", name="Approve").click()
                await page.get_by_role("heading", name="Thank you").wait_for()
                await page.screenshot(path=str(ARTIFACTS / "approval-recorded.png"))
            finally:
                await browser.close()

        done = await wait_for_status(resources, execution_id, "completed", "failed")
        assert done.status == "completed", done.error
        approval = next(
            a
            for a in await approvals_of(resources, execution_id)
            if a.email == "approver0@example.com"
        )
        assert (approval.status, approval.comment) == ("approved", "Looks good to me")
        assert approval.user_agent and "Chrome" in approval.user_agent
    assert (ARTIFACTS / "approval-page.png").stat().st_size > 0
