"""A local server that behaves like ClickSign API v3 (envelopes) for DocFlow's calls.

It refuses what ClickSign would refuse: a wrong `Authorization` token, a body that is not
JSON:API with `Content-Type: application/vnd.api+json`, a document that is not a base64 data
URI, a requirement naming an unknown document or signer, activating an envelope without
signers. The first document gets the key of the documented webhook bodies, so those bodies can
be posted verbatim; later ones get fresh keys.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.signatures.fake_server import FakeServer, problem, signed_pdf
from tests.signatures.providers import CLICKSIGN_DOCUMENT_KEY

JSON_API = "application/vnd.api+json"
TOKEN = "clicksign-access-token-for-tests"


@dataclass
class Envelope:
    id: str
    attributes: dict[str, Any]
    status: str = "draft"
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    signers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requirements: list[dict[str, Any]] = field(default_factory=list)
    signed: set[str] = field(default_factory=set)
    notifications: int = 0


class FakeClickSign(FakeServer):
    """One ClickSign account: only its own access token is accepted."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.envelopes: dict[str, Envelope] = {}
        self.document_keys = [CLICKSIGN_DOCUMENT_KEY]
        #: Signer ids ClickSign gives, by e-mail; others get fresh ids.
        self.signer_ids: dict[str, str] = {}
        #: False: the signed file is not produced yet, even when the envelope is closed.
        self.signed_file_ready = True

    def routes(self, app: web.Application) -> None:
        base = "/api/v3/envelopes"
        app.router.add_post(base, self._create_envelope)
        app.router.add_get(base + "/{id}", self._read_envelope)
        app.router.add_patch(base + "/{id}", self._update_envelope)
        app.router.add_post(base + "/{id}/documents", self._add_document)
        app.router.add_get(base + "/{id}/documents", self._list("documents"))
        app.router.add_get(base + "/{id}/documents/{doc}", self._read_document)
        app.router.add_patch(base + "/{id}/documents/{doc}", self._update_document)
        app.router.add_post(base + "/{id}/signers", self._add_signer)
        app.router.add_get(base + "/{id}/signers", self._list("signers"))
        app.router.add_post(base + "/{id}/requirements", self._add_requirement)
        app.router.add_post(base + "/{id}/notifications", self._notify)
        app.router.add_get("/files/{doc}/signed.pdf", self._signed_file)

    # --- what the test does at "ClickSign" ---

    def envelope_of_document(self, document_key: str) -> Envelope:
        return next(e for e in self.envelopes.values() if document_key in e.documents)

    def sign(self, document_key: str, email: str) -> str:
        """A signer signs; the envelope closes by itself after the last one. Their id."""
        envelope = self.envelope_of_document(document_key)
        if envelope.status == "canceled":
            raise AssertionError("a cancelled envelope cannot be signed")
        signer_id = next(k for k, v in envelope.signers.items() if v["email"] == email)
        envelope.signed.add(signer_id)
        if envelope.signed == set(envelope.signers):
            envelope.status = "closed"
        return signer_id

    def close(self, document_key: str) -> None:
        self.envelope_of_document(document_key).status = "closed"

    # --- the API ---

    async def _checked(self, request: web.Request, step: str, kind: str | None) -> Any:
        body = await self.record(request, step)
        if request.headers.get("Authorization") != self.token:
            raise web.HTTPUnauthorized(text="invalid access token")
        if kind is None:
            return None
        if request.headers.get("Content-Type") != JSON_API:
            raise web.HTTPUnsupportedMediaType(text=f"Content-Type must be {JSON_API}")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != kind:
            raise web.HTTPUnprocessableEntity(text=f"data.type must be {kind}")
        attributes = data.get("attributes")
        if not isinstance(attributes, dict):
            raise web.HTTPUnprocessableEntity(text="data.attributes is required")
        return data

    def _envelope(self, request: web.Request) -> Envelope:
        envelope = self.envelopes.get(request.match_info["id"])
        if envelope is None:
            raise web.HTTPNotFound(text="envelope not found")
        return envelope

    async def _create_envelope(self, request: web.Request) -> web.Response:
        data = await self._checked(request, "envelope", "envelopes")
        if not data["attributes"].get("name"):
            return problem(422, "name is required")
        envelope = Envelope(str(uuid.uuid4()), dict(data["attributes"]))
        self.envelopes[envelope.id] = envelope
        return _answer("envelopes", envelope.id, {**envelope.attributes, "status": "draft"}, 201)

    async def _read_envelope(self, request: web.Request) -> web.Response:
        await self._checked(request, "read", None)
        envelope = self._envelope(request)
        return _answer("envelopes", envelope.id, {**envelope.attributes, "status": envelope.status})

    async def _update_envelope(self, request: web.Request) -> web.Response:
        data = await self._checked(request, "activate", "envelopes")
        envelope = self._envelope(request)
        if data.get("id") != envelope.id:
            return problem(422, "data.id must be the envelope's id")
        if data["attributes"].get("status") == "running":
            if not envelope.documents or not envelope.signers or not envelope.requirements:
                return problem(422, "an envelope needs documents, signers and requirements")
            envelope.status = "running"
        return _answer("envelopes", envelope.id, {**envelope.attributes, "status": envelope.status})

    async def _add_document(self, request: web.Request) -> web.Response:
        data = await self._checked(request, "document", "documents")
        envelope = self._envelope(request)
        attributes = data["attributes"]
        content = str(attributes.get("content_base64") or "")
        if not content.startswith("data:") or ";base64," not in content:
            return problem(422, "content_base64 must be a data URI: data:<type>;base64,<data>")
        try:
            base64.b64decode(content.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            return problem(422, "content_base64 is not base64")
        if not attributes.get("filename"):
            return problem(422, "filename is required")
        key = self.document_keys.pop(0) if self.document_keys else str(uuid.uuid4())
        envelope.documents[key] = {"filename": attributes["filename"]}
        return _answer("documents", key, {"filename": attributes["filename"]}, 201)

    async def _read_document(self, request: web.Request) -> web.Response:
        await self._checked(request, "read", None)
        envelope = self._envelope(request)
        key = request.match_info["doc"]
        if key not in envelope.documents:
            raise web.HTTPNotFound(text="document not found")
        files = {"original": f"{self.url}/files/{key}/original.pdf"}
        if envelope.status == "closed" and self.signed_file_ready:
            files["signed"] = f"{self.url}/files/{key}/signed.pdf"
        body = {
            "data": {
                "id": key,
                "type": "documents",
                "attributes": {**envelope.documents[key], "status": envelope.status},
                "links": {"files": files},
            }
        }
        return web.json_response(body, content_type=JSON_API)

    async def _update_document(self, request: web.Request) -> web.Response:
        """`status: canceled` cancels the document (and so the envelope): nobody signs it
        any more. A closed or cancelled one cannot be cancelled."""
        data = await self._checked(request, "cancel", "documents")
        failure = self.injected_failure("cancel")
        if failure is not None:
            return failure
        envelope = self._envelope(request)
        key = request.match_info["doc"]
        if key not in envelope.documents or data.get("id") != key:
            raise web.HTTPNotFound(text="document not found")
        if data["attributes"].get("status") != "canceled":
            return problem(422, "status must be canceled or closed")
        if envelope.status in ("closed", "canceled"):
            return problem(422, f"the document is {envelope.status}")
        envelope.status = "canceled"
        return _answer("documents", key, {**envelope.documents[key], "status": "canceled"})

    def cancels(self) -> int:
        """Cancellations asked of this account (answered or not)."""
        return len([c for c in self.calls if c.method == "PATCH" and "/documents/" in c.path])

    async def _add_signer(self, request: web.Request) -> web.Response:
        data = await self._checked(request, "signer", "signers")
        envelope = self._envelope(request)
        attributes = data["attributes"]
        if not attributes.get("name") or "@" not in str(attributes.get("email", "")):
            return problem(422, "name and a valid email are required")
        signer_id = self.signer_ids.get(attributes["email"]) or str(uuid.uuid4())
        envelope.signers[signer_id] = dict(attributes)
        return _answer("signers", signer_id, attributes, 201)

    async def _add_requirement(self, request: web.Request) -> web.Response:
        data = await self._checked(request, "requirement", "requirements")
        envelope = self._envelope(request)
        relationships = data.get("relationships") or {}
        document_id = ((relationships.get("document") or {}).get("data") or {}).get("id")
        signer_id = ((relationships.get("signer") or {}).get("data") or {}).get("id")
        if document_id not in envelope.documents or signer_id not in envelope.signers:
            return problem(422, "relationships must name a document and a signer of the envelope")
        action = data["attributes"].get("action")
        if action not in ("agree", "provide_evidence"):
            return problem(422, f"unknown action {action!r}")
        envelope.requirements.append(data)
        return _answer("requirements", str(uuid.uuid4()), data["attributes"], 201)

    async def _notify(self, request: web.Request) -> web.Response:
        await self._checked(request, "notify", "notifications")
        failure = self.injected_failure("notify")
        if failure is not None:
            return failure
        envelope = self._envelope(request)
        if envelope.status != "running":
            return problem(422, "only a running envelope can be notified")
        envelope.notifications += 1
        return _answer("notifications", str(uuid.uuid4()), {}, 201)

    def _list(self, what: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            await self._checked(request, "read", None)
            items = getattr(self._envelope(request), what)
            body = {
                "data": [
                    {"id": key, "type": what, "attributes": attributes}
                    for key, attributes in items.items()
                ]
            }
            return web.json_response(body, content_type=JSON_API)

        return handler

    async def _signed_file(self, request: web.Request) -> web.Response:
        return web.Response(
            body=signed_pdf(request.match_info["doc"]), content_type="application/pdf"
        )


def _answer(
    kind: str, identifier: str, attributes: dict[str, Any], status: int = 200
) -> web.Response:
    body = {"data": {"id": identifier, "type": kind, "attributes": attributes}}
    return web.json_response(body, status=status, content_type=JSON_API)
