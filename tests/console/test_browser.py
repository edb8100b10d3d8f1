"""An operator in a real headless Chromium: sign in, run a workflow and watch it complete, retry
a failed run, extend and reassign a gate, sign out. Screenshots go to test-artifacts/."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

from services.executor.worker import ExecutorWorker
from services.gateway.app import create_app
from services.gateway.console.sessions import COOKIE
from services.notifier.worker import Notifier
from shared.api_keys import create_api_key
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.approvals.support import DEAL, approvals_of, approvers, gate_workflow
from tests.approvals.test_browser import ARTIFACTS, CHROMIUM_ARGS, chromium
from tests.notifier.support import free_port
from tests.support import Receiver, eventually, three_node_workflow, wait_for_status, waits_of

if TYPE_CHECKING:
    from playwright.async_api import ViewportSize

__all__ = ["chromium"]

pytestmark = pytest.mark.slow

#: Form fields no label names, by id (or tag).
UNLABELLED = """
    Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
        .filter((field) => field.labels.length === 0)
        .map((field) => field.id || field.tagName)
"""
DESKTOP: "ViewportSize" = {"width": 1280, "height": 900}
PHONE: "ViewportSize" = {"width": 390, "height": 844}


@dataclass
class Site:
    url: str
    key: str
    resources: Resources
    slow: Receiver
    flaky: Receiver

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method,
                self.url + path,
                json=body,
                headers={"Authorization": f"Bearer {self.key}"},
            ) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json()


@pytest.fixture
async def site(pg_settings: Settings) -> AsyncIterator[Site]:
    """Gateway on a real port, an executor, a notifier printing its e-mails, two receivers."""
    http_port = free_port()
    settings = pg_settings.model_copy(update={"public_url": f"http://127.0.0.1:{http_port}"})
    slow = await Receiver(delay_seconds=2.0).start()
    # The first call is refused (400: not worth a retry), so the run fails; later calls pass.
    flaky = await Receiver(answers=[400]).start()
    try:
        async with open_resources(settings) as resources:
            executor, notifier = ExecutorWorker(resources), Notifier(resources)
            await executor.start()
            await notifier.start()
            runner = web.AppRunner(create_app(resources))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", http_port).start()
            _, key = await create_api_key(resources.sessions, "acme")
            try:
                yield Site(settings.public_url, key, resources, slow, flaky)
            finally:
                await runner.cleanup()
                await notifier.stop()
                await executor.stop()
    finally:
        await slow.stop()
        await flaky.stop()


async def test_an_operator_runs_retries_and_unblocks_work_in_the_console(
    chromium: str, site: Site
) -> None:
    from playwright.async_api import async_playwright, expect

    quote = await site.api("POST", "/api/v1/workflows", three_node_workflow(site.slow.url, "quote"))
    flaky = await site.api(
        "POST", "/api/v1/workflows", three_node_workflow(site.flaky.url, "invoice")
    )
    gate = await site.api(
        "POST", "/api/v1/workflows", gate_workflow(approvers=approvers(2), expires_in="2h")
    )
    failed = await site.api(
        "POST", f"/api/v1/workflows/{flaky['id']}/executions", {"trigger_data": DEAL}
    )
    paused = await site.api(
        "POST", f"/api/v1/workflows/{gate['id']}/executions", {"trigger_data": DEAL}
    )
    failed_id, paused_id = uuid.UUID(failed["execution_id"]), uuid.UUID(paused["execution_id"])
    assert (await wait_for_status(site.resources, failed_id, "failed", "completed")).status == (
        "failed"
    )
    await wait_for_status(site.resources, paused_id, "paused")
    ARTIFACTS.mkdir(exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=DESKTOP)
            page = await context.new_page()
            # Script errors and CSP violations; a page answered 422 or 404 (the favicon) is
            # logged by Chromium too, and is not one.
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )

            # Sign in: the console sends an unsigned visitor to the form, then back.
            await page.goto(f"{site.url}/console/workflows")
            await page.get_by_role("heading", name="Sign in to the console").wait_for()
            await page.get_by_label("API key").fill(site.key)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", name="Workflows").wait_for()
            assert page.url.endswith("/console/workflows")

            # The keyboard starts at the skip link; every field has a label.
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.textContent") == ("Skip to content")
            await page.get_by_role("link", name="Approvals").click()
            assert await page.evaluate(UNLABELLED) == []

            # Run with bad trigger data: the 422 problem is shown inline, nothing starts.
            await page.get_by_role("link", name="Workflows").click()
            await page.get_by_role("link", name="quote", exact=True).click()
            await page.get_by_label("Trigger data").fill("[1, 2]")
            await page.get_by_role("button", name="Run v1").click()
            alert = page.get_by_role("alert")
            await expect(alert).to_contain_text("422")
            await expect(alert).to_contain_text("trigger_data: must be a JSON object")

            # Run it properly and watch it reach `completed` without a reload.
            await page.get_by_label("Trigger data").fill('{"deal": {"amount": 21}}')
            await page.get_by_role("button", name="Run v1").click()
            await page.wait_for_url("**/console/executions/*?done=run")
            await page.evaluate("window.notReloaded = true")
            status = page.locator("#execution-status")
            await expect(status).to_have_text("running", timeout=10_000)
            await expect(status).to_have_text("completed", timeout=20_000)
            assert await page.evaluate("window.notReloaded === true")
            await expect(page.get_by_text("notify").first).to_be_visible()
            assert site.slow.calls and b'"total":42' in site.slow.calls[0]["body"].replace(
                b" ", b""
            )

            # Open the failed run from the list and retry it from its page.
            await page.get_by_role("link", name="Executions").first.click()
            await page.get_by_label("Status").select_option("failed")
            await page.get_by_role("button", name="Filter").click()
            assert await page.evaluate(UNLABELLED) == []
            await page.get_by_role("link", name=str(failed_id)[:8]).click()
            await expect(status).to_have_text("failed")
            await expect(page.get_by_role("alert")).to_contain_text("answered 400")
            await page.get_by_role("link", name="Retry").click()
            await page.get_by_role("button", name="Yes, retry it").click()
            await page.get_by_text("Retry requested").wait_for()
            await expect(status).to_have_text("completed", timeout=20_000)
            for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
                await page.set_viewport_size(viewport)
                await page.screenshot(
                    path=str(ARTIFACTS / f"console-execution-{name}.png"), full_page=True
                )

            # The inbox: extend the gate, then give one approver's place to someone else.
            await page.set_viewport_size(DESKTOP)
            await page.get_by_role("link", name="Approvals").click()
            await page.get_by_role("heading", name="Open approvals").wait_for()
            await expect(page.get_by_text("approver0@example.com").first).to_be_visible()
            assert await page.evaluate(UNLABELLED) == []
            for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
                await page.set_viewport_size(viewport)
                await page.screenshot(
                    path=str(ARTIFACTS / f"console-inbox-{name}.png"), full_page=True
                )
            await page.set_viewport_size(DESKTOP)
            before = (await waits_of(site.resources, paused_id))[0].expires_at
            await page.get_by_label("Extend by").fill("3d")
            await page.get_by_role("button", name="Extend").click()
            await page.get_by_text("Deadline extended on gate gate.").wait_for()
            after = (await waits_of(site.resources, paused_id))[0].expires_at
            assert before is not None and after is not None and after > before

            await page.get_by_role("button", name="Resend links").click()
            await page.get_by_text("New links sent on gate gate.").wait_for()

            await page.get_by_label("Reassign").select_option("approver0@example.com")
            await page.get_by_label("to e-mail").fill("deputy@example.com")
            await page.get_by_label("name (optional)").fill("Deputy")
            await page.get_by_role("button", name="Reassign").click()
            await page.get_by_text("Approver replaced on gate gate.").wait_for()
            await expect(page.get_by_text("deputy@example.com").first).to_be_visible()
            statuses = {a.email: a.status for a in await approvals_of(site.resources, paused_id)}
            assert statuses["approver0@example.com"] == "replaced"
            assert statuses["deputy@example.com"] == "pending"

            # The paused run's page shows whom it waits on.
            await page.goto(f"{site.url}/console/executions/{paused_id}")
            await expect(page.get_by_text("Waiting on approval from").first).to_be_visible()
            await page.screenshot(
                path=str(ARTIFACTS / "console-execution-paused-desktop.png"), full_page=True
            )

            # The list follows statuses by itself: a run started elsewhere shows up, then
            # completes, without a reload.
            await page.get_by_role("link", name="Executions").first.click()
            await page.evaluate("window.notReloaded = true")
            started = await site.api(
                "POST", f"/api/v1/workflows/{quote['id']}/executions", {"trigger_data": DEAL}
            )
            row = page.get_by_role("row").filter(
                has=page.get_by_role("link", name=started["execution_id"][:8])
            )
            await expect(row).to_contain_text("completed", timeout=20_000)
            assert await page.evaluate("window.notReloaded === true")
            for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
                await page.set_viewport_size(viewport)
                await page.screenshot(path=str(ARTIFACTS / f"console-executions-{name}.png"))
            await page.set_viewport_size(DESKTOP)

            # Sign out: the old cookie opens neither the console nor the event stream.
            old = next(c["value"] for c in await context.cookies() if c["name"] == COOKIE)
            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_role("heading", name="Sign in to the console").wait_for()
            await page.goto(f"{site.url}/console/executions")
            await page.get_by_role("heading", name="Sign in to the console").wait_for()
            assert problems == []
        finally:
            await browser.close()

    cookie = {"Cookie": f"{COOKIE}={old}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{site.url}/console/executions", headers=cookie, allow_redirects=False
        ) as response:
            assert response.status == 303
        async with http.get(
            f"{site.url}/api/v1/executions/{paused_id}/events", headers=cookie
        ) as response:
            assert response.status == 401

    async def both_shot() -> bool:
        names = ("execution-desktop", "execution-phone", "inbox-desktop", "inbox-phone")
        return all((ARTIFACTS / f"console-{n}.png").stat().st_size > 0 for n in names)

    assert await eventually(both_shot)
