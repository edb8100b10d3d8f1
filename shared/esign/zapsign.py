"""ZapSign API, as its documentation describes it.

A request is one document: `POST /api/v1/docs/` with the file as `base64_pdf` (or
`base64_docx`), its `signers` and our idempotency key as `external_id`, authorised by
`Authorization: Bearer <api token>`. `GET /api/v1/docs/{token}/` reads its state back; ZapSign
webhooks carry no signature, so that read is what DocFlow believes.
"""

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from shared.esign.errors import ProviderError
from shared.esign.http import ProviderApi
from shared.esign.model import DocumentFile, Journal, RequestSpec, SignedFile, SignerSpec

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#: How DocFlow's signer authentication maps to ZapSign's `auth_mode`.
AUTH_MODES = {
    "email": "assinaturaTela-tokenEmail",
    "sms": "assinaturaTela-tokenSms",
    "whatsapp": "assinaturaTela-tokenWhatsapp",
    "none": "assinaturaTela",
}


class ZapSignClient:
    name = "zapsign"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        base_url: str,
        token: str,
        timeout: float,
        max_bytes: int,
        credential: str = "DOCFLOW_ZAPSIGN_API_TOKEN",
    ) -> None:
        self._api = ProviderApi(
            http,
            base_url=base_url.rstrip("/") + "/api/v1",
            authorization=f"Bearer {token}" if token else "",
            media_type="application/json",
            credential_setting=credential,
            timeout=timeout,
            max_bytes=max_bytes,
        )

    async def create(
        self,
        spec: RequestSpec,
        journal: Journal,
        document: Callable[[], Awaitable[DocumentFile]],
    ) -> None:
        """One call; its answer (document and signer tokens) is journalled at once."""
        if journal.state.provider_request_id is not None:
            return
        created = await self._api.call("POST", "/docs/", _document_body(spec, await document()))
        token = created.get("token")
        if not token:
            raise ProviderError("ZapSign answered without a document token", retryable=False)
        await journal.record(
            provider_request_id=str(token),
            provider_document_id=str(token),
            signer_ids=_signer_tokens(spec.signers, created.get("signers") or []),
        )

    async def document(self, token: str) -> dict[str, Any]:
        """`GET /api/v1/docs/{token}/`: the document with its signers, as ZapSign has it now."""
        return await self._api.call("GET", f"/docs/{token}/")

    async def cancel(self, token: str, reason: str) -> dict[str, Any]:
        """Cancel a document in progress: `POST /api/v1/refuse/` with `doc_token` and
        `rejected_reason`. It can never be signed afterwards; ZapSign refuses (403) a document
        already signed or refused. (`DELETE /docs/{token}/` only hides it from the web app.)"""
        body = {"doc_token": token, "rejected_reason": reason}
        return await self._api.call("POST", "/refuse/", body)

    async def signed_file(self, doc: dict[str, Any]) -> SignedFile | None:
        """Download `signed_file` of a document read just now (its link expires in an hour)."""
        url = doc.get("signed_file")
        if not url:
            return None
        name = str(doc.get("name") or "signed")
        filename = name if name.lower().endswith(".pdf") else f"{name}.pdf"
        return await self._api.signed_file(str(url), filename)


def _document_body(spec: RequestSpec, document: DocumentFile) -> dict[str, Any]:
    encoded = base64.b64encode(document.content).decode()
    body: dict[str, Any] = {
        "name": spec.title,
        "external_id": spec.idempotency_key,
        "lang": spec.locale.lower(),
        "signers": [_signer(signer) for signer in spec.signers],
        # Signers may refuse (as ClickSign's `refusable`), and ZapSign's docs make it a
        # condition of the owner refusing (cancelling) the document through the API too.
        "allow_refuse_signature": True,
    }
    if document.content_type == DOCX or document.filename.lower().endswith(".docx"):
        body["base64_docx"] = encoded
    else:
        body["base64_pdf"] = encoded
    if spec.expires_at is not None:
        body["date_limit_to_sign"] = spec.expires_at.isoformat()
    if spec.ordered:
        body["signature_order_active"] = True
    return body


def _signer(signer: SignerSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": signer.name,
        "email": signer.email,
        "auth_mode": AUTH_MODES.get(signer.auth, AUTH_MODES["email"]),
        "send_automatic_email": True,
        "external_id": str(signer.position),
    }
    if signer.phone:
        body["phone_country"] = signer.phone_country
        body["phone_number"] = signer.phone
    if signer.group is not None:
        body["order_group"] = signer.group
    return body


def _signer_tokens(signers: tuple[SignerSpec, ...], answered: list[Any]) -> dict[int, str]:
    """ZapSign answers the signers in the order they were sent; e-mail confirms the match."""
    tokens: dict[int, str] = {}
    by_email = {
        str(item.get("email", "")).lower(): str(item["token"])
        for item in answered
        if isinstance(item, dict) and item.get("token") and item.get("email")
    }
    for index, signer in enumerate(signers):
        token = by_email.get(signer.email.lower())
        if token is None and index < len(answered) and isinstance(answered[index], dict):
            token = answered[index].get("token")
        if token:
            tokens[signer.position] = str(token)
    return tokens
