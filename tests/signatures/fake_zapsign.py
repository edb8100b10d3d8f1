"""A local server that behaves like the ZapSign API for DocFlow's calls.

`POST /api/v1/docs/` answers in the documented shape (zapsign_create_doc_response.json) and
`GET /api/v1/docs/{token}/` in the documented detail shape (zapsign_get_doc_response.json),
both filled with the document's current state. `Authorization: Bearer <token>` is required. The
first document gets the token of the documented webhook bodies, and a signer with the
documented e-mail gets the documented signer token, so those bodies can be posted verbatim.
"""

import base64
import binascii
import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.signatures.fake_server import FakeServer, problem, signed_pdf
from tests.signatures.providers import (
    ZAPSIGN_DOC_TOKEN,
    ZAPSIGN_SIGNER_EMAIL,
    ZAPSIGN_SIGNER_TOKEN,
    document,
)

TOKEN = "zapsign-api-token-for-tests"


class FakeZapSign(FakeServer):
    """One ZapSign account: only its own API token is accepted."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.docs: dict[str, dict[str, Any]] = {}
        #: Created with `allow_refuse_signature`: only those can be refused through the API.
        self.refusable: dict[str, bool] = {}
        self.doc_tokens = [ZAPSIGN_DOC_TOKEN]
        self.signer_tokens = {ZAPSIGN_SIGNER_EMAIL: ZAPSIGN_SIGNER_TOKEN}
        self._created = document("zapsign_create_doc_response.json")
        self._detail = document("zapsign_get_doc_response.json")

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/docs/", self._create)
        app.router.add_get("/api/v1/docs/{token}/", self._read)
        app.router.add_post("/api/v1/refuse/", self._refuse)
        app.router.add_get("/files/{token}/signed.pdf", self._signed_file)

    # --- what the test does at "ZapSign" ---

    def sign(self, token: str, email: str) -> dict[str, Any]:
        doc = self.docs[token]
        if doc["status"] == "refused":
            raise AssertionError("a refused document cannot be signed")
        signer: dict[str, Any] = next(s for s in doc["signers"] if s["email"] == email)
        signer["status"] = "signed"
        signer["signed_at"] = _now()
        doc["last_update_at"] = _now()
        if all(s["status"] == "signed" for s in doc["signers"]):
            doc["status"] = "signed"
            doc["signed_file"] = f"{self.url}/files/{token}/signed.pdf"
        return signer

    def refuse(self, token: str, email: str, reason: str) -> None:
        doc = self.docs[token]
        signer = next(s for s in doc["signers"] if s["email"] == email)
        signer["status"] = "link-opened"
        signer["last_view_at"] = _now()
        doc.update(status="refused", rejected_reason=reason, deleted=True, deleted_at=_now())

    def cancel(self, token: str) -> None:
        """Sent to the trash by its owner: deleted, never signed."""
        self.docs[token].update(deleted=True, deleted_at=_now())

    # --- the API ---

    async def _authorised(self, request: web.Request, step: str) -> Any:
        body = await self.record(request, step)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise web.HTTPUnauthorized(text='{"detail": "invalid api token"}')
        return body

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._authorised(request, "create")
        if not isinstance(body, dict) or not body.get("name"):
            return problem(400, "name is required")
        encoded = body.get("base64_pdf") or body.get("base64_docx")
        try:
            base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            return problem(400, "base64_pdf (or base64_docx) must be base64")
        signers = body.get("signers")
        if not isinstance(signers, list) or not signers or not all(s.get("name") for s in signers):
            return problem(400, "signers need a name")
        token = self.doc_tokens.pop(0) if self.doc_tokens else str(uuid.uuid4())
        detail = copy.deepcopy(self._detail)
        template = detail["signers"][0]
        detail.update(
            token=token,
            name=body["name"],
            external_id=body.get("external_id") or "",
            status="pending",
            signed_file=None,
            extra_docs=[],
            created_through="api",
            created_at=_now(),
            last_update_at=_now(),
            signers=[self._signer(template, s) for s in signers],
        )
        self.docs[token] = detail
        self.refusable[token] = body.get("allow_refuse_signature") is True
        created = copy.deepcopy(self._created)
        created.update(
            token=token,
            name=body["name"],
            status="pending",
            signers=[
                {
                    **{k: v for k, v in created["signers"][0].items()},
                    **{k: s[k] for k in ("token", "status", "name", "email")},
                    "sign_url": f"https://app.zapsign.com.br/verificar/{s['token']}",
                }
                for s in detail["signers"]
            ],
        )
        return web.json_response(created)

    def _signer(self, template: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        signer = copy.deepcopy(template)
        email = str(sent.get("email") or "")
        signer.update(
            token=self.signer_tokens.get(email) or str(uuid.uuid4()),
            status="new",
            name=sent["name"],
            email=email,
            auth_mode=sent.get("auth_mode", "assinaturaTela"),
            phone_country=sent.get("phone_country", "55"),
            phone_number=sent.get("phone_number", ""),
            external_id=sent.get("external_id", ""),
            signed_at=None,
            last_view_at=None,
        )
        return signer

    async def _read(self, request: web.Request) -> web.Response:
        await self._authorised(request, "read")
        doc = self.docs.get(request.match_info["token"])
        if doc is None:
            return web.json_response({"detail": "Não encontrado."}, status=404)
        return web.json_response(doc)

    async def _refuse(self, request: web.Request) -> web.Response:
        """The owner cancels a document in progress: refused, never signed afterwards."""
        body = await self._authorised(request, "cancel")
        failure = self.injected_failure("cancel")
        if failure is not None:
            return failure
        if not isinstance(body, dict) or not body.get("doc_token"):
            return web.json_response({"detail": "missing_doc_token"}, status=400)
        if not body.get("rejected_reason"):
            return web.json_response({"detail": "missing_rejected_reason"}, status=400)
        doc = self.docs.get(str(body["doc_token"]))
        if doc is None:
            return web.json_response({"detail": "document_not_found"}, status=404)
        if doc["status"] == "signed":
            return web.json_response({"detail": "document_already_signed"}, status=403)
        if doc["status"] == "refused":
            return web.json_response({"detail": "document_already_refused"}, status=403)
        if not self.refusable.get(str(body["doc_token"])):
            return web.json_response({"detail": "refuse_not_allowed"}, status=403)
        doc.update(status="refused", rejected_reason=body["rejected_reason"], last_update_at=_now())
        return web.json_response(
            {"message": "Documento recusado com sucesso. Lembrete: este endpoint é assíncrono."}
        )

    def cancels(self) -> int:
        """Cancellations asked of this account (answered or not)."""
        return len(self.calls_to("POST", "/api/v1/refuse/"))

    async def _signed_file(self, request: web.Request) -> web.Response:
        return web.Response(
            body=signed_pdf(request.match_info["token"]), content_type="application/pdf"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
