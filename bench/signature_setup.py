"""What both e-signature benchmark phases use: the fake ClickSign the tests use, and waits on
the services they start."""

import asyncio
import sys
import time
from typing import Any

import aiohttp
from stack import REPO_ROOT, Service

# The fake ClickSign and the documented bodies live with the tests.
sys.path.insert(0, str(REPO_ROOT))
from tests.signatures import fake_clicksign
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.providers import CLICKSIGN_SECRET, clicksign_event, clicksign_headers

__all__ = ["FakeClickSign", "clicksign_event", "clicksign_headers"]

READY_WITHIN_SECONDS = 90.0
SIGNER = "signer@bench.test"


def provider_env(fake: FakeClickSign) -> dict[str, str]:
    return {
        "DOCFLOW_CLICKSIGN_BASE_URL": fake.url,
        "DOCFLOW_CLICKSIGN_ACCESS_TOKEN": fake_clicksign.TOKEN,
        "DOCFLOW_CLICKSIGN_WEBHOOK_SECRET": CLICKSIGN_SECRET,
    }


async def wait_for(
    probe: Any, *, within: float, what: str, services: list[Service], interval: float = 0.2
) -> Any:
    deadline = time.monotonic() + within
    while True:
        for service in services:
            if service.process.returncode is not None:
                raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within:.0f}s")
        await asyncio.sleep(interval)


async def ready(base_url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url}/readyz") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False
