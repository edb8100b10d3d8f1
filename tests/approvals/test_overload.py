"""Deciding while PostgreSQL refuses connections: never a 500, never a lost decision.

Under a burst of decisions the gateway's pool opens overflow connections; on a shared server
(every service holds up to 20, `max_connections` is 100) PostgreSQL answers some of them with
"too many clients" (SQLSTATE 53300). Here the gateway connects as a role with a connection
limit, which gets exactly that refusal from the real server for this test alone.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from services.gateway.app import create_app
from services.gateway.approvals import decisions
from services.gateway.approvals.decisions import ByLink, Recorded, Refusal
from shared.db.types import utcnow
from shared.outbox import publish_staged
from shared.runtime import Resources, open_resources
from tests.approvals.support import CSRF, Harness, approvals_of, approvers, gate_workflow
from tests.conftest import PG_HOST, PG_PORT, PG_USER
from tests.support import wait_for_status

#: Far below the pool's 10 + 10: a burst needs more connections than the server grants.
ROLE_CONNECTION_LIMIT = 3
APPROVERS = 24


@dataclass
class CappedGateway:
    client: TestClient[Any, Any]
    role: str
    admin: asyncpg.Connection

    async def cap(self, connections: int) -> None:
        await self.admin.execute(f'ALTER ROLE "{self.role}" CONNECTION LIMIT {connections}')


@pytest.fixture
async def capped(resources: Resources) -> AsyncIterator[CappedGateway]:
    """The gateway, connecting to the test's database as a role PostgreSQL caps at
    `ROLE_CONNECTION_LIMIT` connections."""
    url = make_url(resources.settings.database_url)
    role = f"docflow_capped_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.database)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT {ROLE_CONNECTION_LIMIT}')
        await admin.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        await admin.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        capped = resources.settings.model_copy(
            update={"database_url": url.set(username=role).render_as_string(False)}
        )
        async with (
            open_resources(capped) as opened,
            TestClient(TestServer(create_app(opened))) as client,
        ):
            yield CappedGateway(client, role, admin)
    finally:
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE "{role}"')
        await admin.close()


async def test_a_burst_of_decisions_the_database_cannot_connect_for_gets_no_500_and_loses_none(
    harness: Harness, capped: CappedGateway
) -> None:
    limited_gateway = capped.client
    execution_id = await harness.start(
        gate_workflow(approvers=approvers(APPROVERS), strategy="all")
    )
    links = await harness.links(APPROVERS)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:

        async def csrf_of(token: str) -> str:
            async with browser.get(limited_gateway.make_url(f"/approve/{token}")) as page:
                match = CSRF.search(await page.text())
                assert page.status == 200 and match, page.status
                return match["csrf"]

        async def decide(token: str, csrf: str) -> tuple[int, str | None]:
            async with browser.post(
                limited_gateway.make_url(f"/approve/{token}"),
                data={"csrf": csrf, "decision": "approve"},
                headers={"Cookie": f"docflow_csrf={csrf}"},
            ) as response:
                await response.read()
                return response.status, response.headers.get("Retry-After")

        csrfs = {token: await csrf_of(token) for token in links.values()}
        answers = dict(
            zip(
                csrfs,
                await asyncio.gather(*(decide(t, c) for t, c in csrfs.items())),
                strict=True,
            )
        )

        assert {status for status, _ in answers.values()} <= {200, 503}, answers
        busy = [token for token, (status, _) in answers.items() if status == 503]
        assert all(answers[token][1] for token in busy), "a 503 says when to try again"
        # A refused decision was not recorded and can be made again: nothing is lost.
        for token in busy:
            assert await decide(token, csrfs[token]) == (200, None)

    recorded = await approvals_of(harness.resources, execution_id)
    assert [a.status for a in recorded] == ["approved"] * APPROVERS
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error


async def test_a_decision_the_database_refuses_throughout_gets_a_503_page_and_can_be_made_later(
    harness: Harness, capped: CappedGateway
) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    csrf = "c" * 43  # double-submit: any well-formed value the cookie repeats
    form = {"csrf": csrf, "decision": "approve"}
    cookie = {"Cookie": f"docflow_csrf={csrf}"}
    await capped.cap(0)

    refused = await capped.client.post(f"/approve/{token}", data=form, headers=cookie)

    assert refused.status == 503
    assert refused.headers["Retry-After"].isdigit()
    assert refused.content_type == "text/html"
    assert "nothing was recorded" in await refused.text()
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"
    page = await capped.client.get(f"/approve/{token}")
    assert page.status == 503 and page.headers["Retry-After"]

    await capped.cap(ROLE_CONNECTION_LIMIT)
    accepted = await capped.client.post(f"/approve/{token}", data=form, headers=cookie)
    assert accepted.status == 200, await accepted.text()
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error


async def test_a_decision_tried_again_after_its_commit_went_through_is_answered_as_recorded(
    harness: Harness,
) -> None:
    """The connection can drop after COMMIT reached the server: the retry must not call our
    own decision "already used"."""
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    now = utcnow()

    async def record() -> Recorded | Refusal:
        return await decisions.record(
            harness.resources.sessions,
            ByLink(token),
            decision="approved",
            comment=None,
            client_ip=None,
            user_agent=None,
            now=now,
        )

    first, again = await record(), await record()

    assert isinstance(first, Recorded) and first.staged is not None
    assert again == Recorded("approved", late=False, staged=None)
    # Another request of the same approver (its own moment) is the used link it always was.
    later = await decisions.record(
        harness.resources.sessions,
        ByLink(token),
        decision="approved",
        comment=None,
        client_ip=None,
        user_agent=None,
        now=utcnow(),
    )
    assert later is Refusal.USED
    resources = harness.resources
    await publish_staged(resources.sessions, resources.broker, [first.staged])
    await wait_for_status(resources, execution_id, "completed")
