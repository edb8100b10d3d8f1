"""A local server that answers like HubSpot's CRM v3 objects API and records each request."""

import copy
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.triggers.conftest import provider_json

CONTACT = {"id": "1246965", "properties": {"email": "ana@acme.example", "firstname": "Ana",
           "lastname": "Lima", "hs_object_id": "1246965"},
           "createdAt": "2023-11-01T10:00:00Z", "updatedAt": "2023-11-02T10:00:00Z",
           "archived": False}  # fmt: skip
COMPANY = {"id": "5001", "properties": {"name": "ACME Ltda", "domain": "acme.example",
           "hs_object_id": "5001"},
           "createdAt": "2023-10-01T10:00:00Z", "updatedAt": "2023-10-02T10:00:00Z",
           "archived": False}  # fmt: skip


def deal_with_company() -> dict[str, Any]:
    """The documented deal (associated to one contact), also associated to one company."""
    deal: dict[str, Any] = copy.deepcopy(provider_json("hubspot_deal_get_response.json"))
    deal["associations"]["companies"] = {"results": [{"id": "5001", "type": "deal_to_company"}]}
    # Labelled associations repeat an id under another type; it must be read once.
    deal["associations"]["contacts"]["results"].append({"id": "1246965", "type": "primary"})
    return deal


@dataclass
class FakeHubSpot:
    token: str = "pat-test"
    #: Statuses to answer the next requests with, before answering normally.
    failures: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.requests.append({"method": request.method, "path": request.path,
                              "query": dict(request.query), "headers": dict(request.headers),
                              "json": body})  # fmt: skip
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"status": "error", "category": "INVALID_AUTHENTICATION"},
                                     status=401)  # fmt: skip
        if self.failures:
            return web.json_response({"status": "error"}, status=self.failures.pop(0))
        if request.method == "GET" and request.path == "/crm/v3/objects/deals/1246990":
            return web.json_response(deal_with_company())
        if request.method == "GET":
            return web.json_response(
                {"status": "error", "category": "OBJECT_NOT_FOUND"}, status=404
            )
        known = {"contacts": {"1246965": CONTACT}, "companies": {"5001": COMPANY}}
        plural = request.path.split("/")[4]
        ids = [item["id"] for item in (body or {}).get("inputs", [])]
        results = [known[plural][i] for i in ids if i in known.get(plural, {})]
        return web.json_response({"status": "COMPLETE", "results": results,
                                  "startedAt": "2023-11-14T22:15:00Z",
                                  "completedAt": "2023-11-14T22:15:01Z"})  # fmt: skip

    async def start(self) -> "FakeHubSpot":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket private
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
