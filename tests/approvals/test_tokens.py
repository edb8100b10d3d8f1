"""Links: 256-bit, hashed at rest, one approver of one wait, single use, dying with the wait."""

from sqlalchemy import text

from shared.approval_links import mint_token, token_hash
from shared.runtime import Resources
from tests.approvals.support import Harness, approvals_of, approvers, gate_workflow, text_of
from tests.support import eventually, execution_row, wait_for_status


async def every_stored_text(resources: Resources) -> str:
    """Every row of every table, as text: what a database dump would show."""
    async with resources.engine.connect() as conn:
        tables = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        dumped: list[str] = []
        for table in list(tables):
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            dumped.extend(rows.scalars())
    return "\n".join(dumped)


async def test_no_raw_token_is_stored_anywhere_only_its_hash(harness: Harness) -> None:
    execution_id = await harness.start(gate_workflow())
    tokens = list((await harness.links(3)).values())
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64url

    stored = await every_stored_text(harness.resources)

    for token in tokens:
        assert token not in stored
        assert token_hash(token) in stored
    assert await harness.click(tokens[0], "approve") == 200
    await wait_for_status(harness.resources, execution_id, "completed")
    stored = await every_stored_text(harness.resources)
    assert not any(token in stored for token in tokens)


async def test_a_wrong_token_opens_nothing_and_changes_nothing(harness: Harness) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [real] = (await harness.links(1)).values()
    _, _, csrf = await harness.open_page(real)
    assert csrf

    for wrong in (mint_token(), real[:-1] + ("A" if real[-1] != "A" else "B"), "x"):
        status, html, _ = await harness.open_page(wrong)
        assert status == 404 and "not valid" in html
        assert (await harness.post(wrong, csrf, "approve"))[0] == 404

    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"
    assert (await execution_row(harness.resources, execution_id)).status == "paused"


async def test_a_used_token_is_gone_and_a_second_decision_changes_nothing(
    harness: Harness,
) -> None:
    execution_id = await harness.start(gate_workflow(strategy="all"))
    links = await harness.links(3)
    token = links["approver0@example.com"]
    _, _, csrf = await harness.open_page(token)
    assert csrf
    assert (await harness.post(token, csrf, "approve", "fine"))[0] == 200

    status, html, _ = await harness.open_page(token)
    assert status == 410 and "already used" in html
    assert (await harness.post(token, csrf, "reject"))[0] == 410

    rows = {row.email: row for row in await approvals_of(harness.resources, execution_id)}
    assert (rows["approver0@example.com"].status, rows["approver0@example.com"].comment) == (
        "approved",
        "fine",
    )
    # One link decides for one approver of one wait: the others are still pending.
    assert [rows[f"approver{i}@example.com"].status for i in (1, 2)] == ["pending", "pending"]
    assert (await execution_row(harness.resources, execution_id)).status == "paused"


async def test_an_expired_token_is_refused_and_changes_nothing(harness: Harness) -> None:
    # No scheduler runs: the gate stays open past its deadline, yet its links are dead.
    execution_id = await harness.start(gate_workflow(approvers=approvers(1), expires_in=1))
    [token] = (await harness.links(1)).values()

    async def refused() -> bool:
        status, _, _ = await harness.open_page(token)
        return status == 410

    await eventually(refused, within=10)
    _, html, _ = await harness.open_page(token)
    assert "expired" in html
    assert (await harness.post(token, "a" * 43, "approve"))[0] == 410
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"


async def test_a_post_without_the_pages_csrf_value_decides_nothing(harness: Harness) -> None:
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    _, _, csrf = await harness.open_page(token)
    assert csrf

    forged = await harness.browser.post(
        harness.client.make_url(f"/approve/{token}"),
        data={"csrf": csrf, "decision": "approve"},  # the value, but not the cookie
    )
    mismatched_form = await harness.browser.post(
        harness.client.make_url(f"/approve/{token}"),
        data={"csrf": mint_token(), "decision": "approve"},
        headers={"Cookie": f"docflow_csrf={csrf}"},
    )

    assert (forged.status, mismatched_form.status) == (403, 403)
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"


async def test_a_form_its_content_type_does_not_describe_is_refused_and_decides_nothing(
    harness: Harness,
) -> None:
    """Found by the fuzzer: multipart/form-data without a boundary was a 500."""
    execution_id = await harness.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    _, _, csrf = await harness.open_page(token)
    assert csrf

    response = await harness.browser.post(
        harness.client.make_url(f"/approve/{token}"),
        data=f"csrf={csrf}&decision=approve",
        headers={"Cookie": f"docflow_csrf={csrf}", "Content-Type": "multipart/form-data"},
    )

    assert response.status == 400, await response.text()
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"


async def test_links_are_built_from_the_public_url_and_pages_are_not_cacheable(
    harness: Harness,
) -> None:
    await harness.start(gate_workflow(approvers=approvers(1)))
    await harness.links(1)
    [email] = harness.transport.sent
    base = harness.resources.settings.public_url.rstrip("/")
    assert f"{base}/approve/" in text_of(email)
    token = next(iter((await harness.links(1)).values()))
    response = await harness.browser.get(
        harness.client.make_url(f"/approve/{token}"), headers={"Host": "evil.example"}
    )
    html = await response.text()
    assert response.status == 200
    assert "evil.example" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "SameSite=Strict" in response.headers["Set-Cookie"]
