"""Local servers that behave like the documented Microsoft Graph and Google APIs, recording
every request they get so tests can hold them to the documented shapes."""

import asyncio
import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROVIDERS = Path("/work/shared/providers")
GRAPH_TOKEN = "graph-access-token"
GOOGLE_TOKEN = "ya29.fake-access-token"
UPLOAD_SESSION_EXPIRY = "2026-11-26T09:21:55.523Z"


def fixture(name: str) -> Any:
    return json.loads((PROVIDERS / name).read_text())


@dataclass
class Call:
    method: str
    #: Percent-decoded path, as the provider reads it.
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


@dataclass
class FakeServer:
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> "FakeServer":
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._record)
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

    async def _record(self, request: web.Request) -> web.StreamResponse:
        call = Call(
            request.method, request.path, request.raw_path.split("?")[0], dict(request.query),
            dict(request.headers), await request.read(),
        )  # fmt: skip
        self.calls.append(call)
        return await self.answer(call)

    async def answer(self, call: Call) -> web.StreamResponse:
        raise NotImplementedError

    def called(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@dataclass
class FakeGraph(FakeServer):
    """Microsoft identity platform + Graph drive items, at `{url}` and `{url}/v1.0`."""

    #: Answer the next uploads with this (status, code) instead of storing them.
    upload_errors: list[tuple[int, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    _sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def graph_base_url(self) -> str:
        return f"{self.url}/v1.0"

    async def answer(self, call: Call) -> web.StreamResponse:
        drive = r"/v1\.0/(?:users/[^/]+/drive|drives/[^/]+)"
        if call.method == "POST" and re.fullmatch(r"/[^/]+/oauth2/v2\.0/token", call.path):
            form = call.form()
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("client_secret") != "s3cret"
            ):
                return web.json_response({"error": "invalid_client"}, status=401)
            return web.json_response(
                {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                 "access_token": GRAPH_TOKEN}
            )  # fmt: skip
        if call.path.startswith("/up/"):
            return self._upload_range(call)
        if call.path.startswith("/download/"):
            item_id = call.path.removeprefix("/download/").removesuffix(".pdf")
            body = b"%PDF-1.7\n% converted by the fake Graph from " + item_id.encode() + b"\n"
            return web.Response(body=body, content_type="application/pdf")
        if call.headers.get("Authorization") != f"Bearer {GRAPH_TOKEN}":
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if call.method == "PUT" and (m := re.fullmatch(drive + r"/root:/(.+):/content", call.path)):
            if self.upload_errors:
                return _error(*self.upload_errors.pop(0), "The upload was refused.")
            return web.json_response(self._item(m[1], call.body), status=201)
        if call.method == "POST" and (
            m := re.fullmatch(drive + r"/root:/(.+):/createUploadSession", call.path)
        ):
            session_id = f"session-{len(self._sessions) + 1}"
            self._sessions[session_id] = {"path": m[1], "data": b""}
            return web.json_response(
                {
                    "uploadUrl": f"{self.url}/up/{session_id}",
                    "expirationDateTime": UPLOAD_SESSION_EXPIRY,
                }
            )
        if call.method == "GET" and (
            m := re.fullmatch(drive + r"/items/([^/]+)/content", call.path)
        ):
            if call.query.get("format") != "pdf":
                return _error(400, "invalidRequest", "unsupported format")
            # Graph answers a conversion with a redirect to a pre-authenticated download.
            raise web.HTTPFound(f"{self.url}/download/{m[1]}.pdf")
        return _error(404, "itemNotFound", f"no route {call.method} {call.path}")

    def _upload_range(self, call: Call) -> web.Response:
        if "Authorization" in call.headers:
            return _error(401, "unauthenticated", "upload URLs take no Authorization header")
        session = self._sessions[call.path.removeprefix("/up/")]
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", call.headers.get("Content-Range", ""))
        if m is None:
            return _error(400, "invalidRange", "Content-Range missing")
        start, end, total = (int(x) for x in m.groups())
        if start != len(session["data"]) or end - start + 1 != len(call.body):
            return _error(416, "invalidRange", "fragment out of order")
        if end + 1 < total and len(call.body) % (320 * 1024):
            return _error(400, "invalidRange", "fragments must be multiples of 320 KiB")
        session["data"] += call.body
        if end + 1 < total:
            return web.json_response(
                {
                    "expirationDateTime": UPLOAD_SESSION_EXPIRY,
                    "nextExpectedRanges": [f"{end + 1}-"],
                },
                status=202,
            )
        return web.json_response(self._item(session["path"], session["data"]), status=201)

    def _item(self, path: str, data: bytes) -> dict[str, Any]:
        """The documented driveItem answer (graph_driveitem_put_response.json) for this file."""
        item: dict[str, Any] = fixture("graph_driveitem_put_response.json")
        self.files[path] = data
        # One id per path: uploading to a path again replaces that file, as Graph does.
        index = list(self.files).index(path)
        if index:
            item["id"] = f"{item['id']}-{index + 1}"
        item["name"] = path.rsplit("/", 1)[-1]
        item["size"] = len(data)
        item["webUrl"] = f"https://contoso-my.sharepoint.com/personal/{path}"
        return item


def service_account() -> tuple[dict[str, Any], rsa.RSAPublicKey]:
    """A service account key as Google issues it, with a fresh RSA key."""
    from cryptography.hazmat.primitives import serialization

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    info = {
        "type": "service_account",
        "project_id": "docflow-test",
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "docflow@docflow-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return info, key.public_key()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verified_claims(assertion: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The JWT's claims, after checking its RS256 signature (raises InvalidSignature)."""
    header, payload, signature = assertion.split(".")
    public_key.verify(
        _b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    claims: dict[str, Any] = json.loads(_b64(payload))
    claims["_header"] = json.loads(_b64(header))
    return claims


@dataclass
class FakeGoogle(FakeServer):
    """The OAuth token endpoint, Drive v3, Docs v1 and Slides v1 on one server."""

    public_key: rsa.RSAPublicKey | None = None
    #: File ids whose export Drive refuses as larger than 10 MB.
    too_large: set[str] = field(default_factory=set)
    #: Exports answered 500 before one succeeds.
    failing_exports: int = 0
    #: While set, exports wait for it: a test can stop the world mid-export.
    export_gate: asyncio.Event | None = None
    copies: int = 0

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    async def answer(self, call: Call) -> web.StreamResponse:
        if call.method == "POST" and call.path == "/token":
            form = call.form()
            assert self.public_key is not None
            claims = verified_claims(form["assertion"], self.public_key)
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return web.json_response({"error": "unsupported_grant_type"}, status=400)
            if claims["aud"] != self.token_url:
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(
                {"access_token": GOOGLE_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
            )
        if call.headers.get("Authorization") != f"Bearer {GOOGLE_TOKEN}":
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if call.method == "POST" and re.fullmatch(r"/drive/v3/files/[^/]+/copy", call.path):
            self.copies += 1
            copy = fixture("google_drive_copy_response.json")
            if self.copies > 1:
                copy["id"] = f"{copy['id']}-{self.copies}"
            copy["name"] = call.json()["name"]
            return web.json_response(copy)
        if m := re.fullmatch(r"/v1/documents/([^/]+):batchUpdate", call.path):
            return web.json_response(
                {**fixture("google_docs_batchupdate_response.json"), "documentId": m[1]}
            )
        if m := re.fullmatch(r"/v1/presentations/([^/]+):batchUpdate", call.path):
            return web.json_response(
                {**fixture("google_slides_batchupdate_response.json"), "presentationId": m[1]}
            )
        if call.method == "GET" and (
            m := re.fullmatch(r"/drive/v3/files/([^/]+)/export", call.path)
        ):
            return await self._export(m[1])
        return _error(404, "NOT_FOUND", f"no route {call.method} {call.path}")

    async def _export(self, file_id: str) -> web.Response:
        if self.export_gate is not None:
            await self.export_gate.wait()
        if file_id in self.too_large:
            # The body Drive sends (googleapis/google-api-ruby-client#906).
            error = {"domain": "global", "reason": "exportSizeLimitExceeded",
                     "message": "This file is too large to be exported."}  # fmt: skip
            return web.json_response(
                {"error": {"errors": [error], "code": 403,
                           "message": "This file is too large to be exported."}},
                status=403,
            )  # fmt: skip
        if self.failing_exports:
            self.failing_exports -= 1
            return _error(500, "INTERNAL", "Internal error encountered.")
        return web.Response(
            body=b"%PDF-1.5\n% exported by the fake Drive from " + file_id.encode() + b"\n",
            content_type="application/pdf",
        )
