"""Abuse limits: per API key on the API, per address on approval pages and webhooks, each a 429
with Retry-After; metric labels never come from the URL; /metrics can leave the API port."""

import contextlib
import uuid
from collections.abc import AsyncIterator

from shared.api_keys import create_api_key
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway


@contextlib.asynccontextmanager
async def gateway_with(settings: Settings, **changes: object) -> AsyncIterator[Gateway]:
    async with (
        open_resources(settings.model_copy(update=changes)) as resources,
        running_gateway(resources) as gateway,
    ):
        yield gateway


async def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(
    embedded_settings: Settings,
) -> None:
    # One a second: a burst of two passes, the third is refused.
    async with gateway_with(embedded_settings, rate_limit_api_per_second=1.0) as gateway:
        statuses = [
            (await gateway.client.get("/api/v1/workflows", headers=gateway.auth)).status
            for _ in range(2)
        ]
        refused = await gateway.client.get("/api/v1/workflows", headers=gateway.auth)
        _, other_key = await create_api_key(gateway.resources.sessions, "other")
        other = await gateway.client.get(
            "/api/v1/workflows", headers={"Authorization": f"Bearer {other_key}"}
        )
        problem = await refused.json()

    assert statuses == [200, 200]
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert problem["type"].endswith("too-many-requests")
    assert other.status == 200


async def test_approval_pages_and_webhooks_are_limited_per_address(
    embedded_settings: Settings,
) -> None:
    async with gateway_with(
        embedded_settings, rate_limit_pages_per_second=1.0, rate_limit_webhooks_per_second=1.0
    ) as gateway:
        pages = [(await gateway.client.get("/approve/nope")).status for _ in range(3)]
        hook = f"/api/v1/hooks/{uuid.uuid4()}"
        hooks = [(await gateway.client.post(hook, data=b"{}")).status for _ in range(3)]
        # The API has its own limit, untouched by the pages and webhooks above.
        api = await gateway.client.get("/api/v1/workflows", headers=gateway.auth)

    assert 429 not in pages[:2] and pages[2] == 429
    assert 429 not in hooks[:2] and hooks[2] == 429
    assert api.status == 200


async def test_an_unknown_signature_provider_is_404_and_adds_no_series(
    embedded_settings: Settings,
) -> None:
    async with gateway_with(embedded_settings) as gateway:
        before = await (await gateway.client.get("/metrics")).text()
        answers = [
            (await gateway.client.post(f"/api/v1/webhooks/signature/x{n}evil", data=b"{}")).status
            for n in range(5)
        ]
        after = await (await gateway.client.get("/metrics")).text()

    assert answers == [404] * 5
    assert "evil" not in after

    def webhook_series(text: str) -> set[str]:
        return {
            line.split(" ")[0]
            for line in text.splitlines()
            if line.startswith("docflow_webhook_events_total{")
        }

    assert webhook_series(after) == webhook_series(before)


async def test_metrics_can_leave_the_api_port(embedded_settings: Settings) -> None:
    async with gateway_with(embedded_settings, metrics_on_api_port=False) as gateway:
        assert (await gateway.client.get("/metrics")).status == 404
        assert (await gateway.client.get("/healthz")).status == 200
