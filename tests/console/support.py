"""Signing a test client into the console, and reading the CSRF value its pages carry."""

import re
from typing import Any

from tests.gateway.conftest import Gateway

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
COOKIE = "docflow_console"


def csrf_in(html: str) -> str:
    match = CSRF.search(html)
    assert match is not None, html
    return match.group(1)


async def sign_in(gateway: Gateway, key: str | None = None) -> str:
    """Signs the gateway's client in; returns the console's CSRF value."""
    form = await gateway.client.get("/console/sign-in")
    assert form.status == 200
    response = await gateway.client.post(
        "/console/sign-in",
        data={"csrf": csrf_in(await form.text()), "api_key": key or gateway.key, "next": ""},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    page = await gateway.client.get("/console/executions")
    assert page.status == 200
    return csrf_in(await page.text())


async def post(gateway: Gateway, path: str, data: dict[str, Any]) -> tuple[int, str, str]:
    """(status, body, Location) of a console form post, not following the redirect."""
    response = await gateway.client.post(path, data=data, allow_redirects=False)
    return response.status, await response.text(), response.headers.get("Location", "")
