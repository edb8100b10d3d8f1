"""ClickSign API v3 (envelopes), as its documentation describes it.

A request is an envelope with one document, its signers, two requirements per signer (agree
to sign; provide evidence of identity), activated by `PATCH status=running` and then notified.
Every body is JSON:API (`{"data": {"type", "attributes", "relationships"}}`) with
`Content-Type: application/vnd.api+json`, and the access token is the bare `Authorization`.
Each step is journalled as soon as ClickSign answered, so a re-run resumes after the last one.
"""

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from shared.esign.errors import ProviderError
from shared.esign.http import ProviderApi
from shared.esign.model import DocumentFile, Journal, RequestSpec, SignedFile, SignerSpec

JSON_API = "application/vnd.api+json"
#: How DocFlow's signer authentication maps to ClickSign's `provide_evidence` auth.
AUTH_EVIDENCE = {"email": "email", "sms": "sms", "whatsapp": "whatsapp"}


class ClickSignClient:
    name = "clicksign"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        base_url: str,
        token: str,
        timeout: float,
        max_bytes: int,
        credential: str = "DOCFLOW_CLICKSIGN_ACCESS_TOKEN",
    ) -> None:
        self._api = ProviderApi(
            http,
            base_url=base_url.rstrip("/") + "/api/v3",
            authorization=token,
            media_type=JSON_API,
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
        """Set up (or finish setting up) the envelope; safe to call again after a crash."""
        state = journal.state
        # Only a resumed creation asks ClickSign what it already has.
        resuming = state.provider_request_id is not None
        if state.provider_request_id is None:
            envelope = await self._api.call("POST", "/envelopes", _envelope_body(spec))
            await journal.record(provider_request_id=_id(envelope))
        envelope_id = state.provider_request_id
        assert envelope_id is not None
        if state.provider_document_id is None:
            documents = await self._listed(envelope_id, "documents") if resuming else []
            if documents:
                # A crash after ClickSign stored it but before the journal did.
                await journal.record(provider_document_id=str(documents[0]["id"]))
            else:
                added = await self._api.call(
                    "POST", f"/envelopes/{envelope_id}/documents", _document_body(await document())
                )
                await journal.record(provider_document_id=_id(added))
        await self._add_signers(envelope_id, spec, journal, resuming=resuming)
        await self._add_requirements(envelope_id, spec, journal)
        if not state.progress.get("activated"):
            await self._api.call("PATCH", f"/envelopes/{envelope_id}", _activate_body(envelope_id))
            await journal.record(progress={"activated": True})
        if not state.progress.get("notified"):
            await self._api.call(
                "POST", f"/envelopes/{envelope_id}/notifications", _notification_body(spec)
            )
            await journal.record(progress={"notified": True})

    async def _listed(self, envelope_id: str, what: str) -> list[dict[str, Any]]:
        answer = await self._api.call("GET", f"/envelopes/{envelope_id}/{what}")
        return [item for item in answer.get("data") or [] if item.get("id")]

    async def _add_signers(
        self, envelope_id: str, spec: RequestSpec, journal: Journal, *, resuming: bool
    ) -> None:
        missing = [s for s in spec.signers if s.position not in journal.state.signer_ids]
        if not missing:
            return
        listed = await self._listed(envelope_id, "signers") if resuming else []
        known = {
            str((item.get("attributes") or {}).get("email", "")).lower(): str(item["id"])
            for item in listed
        }
        for signer in missing:
            signer_id = known.get(signer.email.lower())
            if signer_id is None:
                added = await self._api.call(
                    "POST", f"/envelopes/{envelope_id}/signers", _signer_body(signer)
                )
                signer_id = _id(added)
            await journal.record(signer_ids={signer.position: signer_id})

    async def _add_requirements(
        self, envelope_id: str, spec: RequestSpec, journal: Journal
    ) -> None:
        document_id = journal.state.provider_document_id
        assert document_id is not None
        done = set(_as_list(journal.state.progress.get("requirements")))
        for signer in spec.signers:
            if signer.position in done:
                continue
            signer_id = journal.state.signer_ids[signer.position]
            path = f"/envelopes/{envelope_id}/requirements"
            await self._api.call("POST", path, _qualification_body(document_id, signer_id))
            evidence = AUTH_EVIDENCE.get(signer.auth)
            if evidence is not None:
                await self._api.call(
                    "POST", path, _authentication_body(document_id, signer_id, evidence)
                )
            done.add(signer.position)
            await journal.record(progress={"requirements": sorted(done)})

    async def cancel(self, envelope_id: str, document_id: str) -> dict[str, Any]:
        """Cancel the envelope's document, so nobody can sign it any more: `PATCH
        /envelopes/{id}/documents/{document_id}` with `status: canceled` (ClickSign answers
        with the document; a closed or already cancelled one is refused with a 4xx)."""
        body = {
            "data": {
                "id": document_id,
                "type": "documents",
                "attributes": {"status": "canceled"},
            }
        }
        return await self._api.call(
            "PATCH", f"/envelopes/{envelope_id}/documents/{document_id}", body
        )

    async def envelope(self, envelope_id: str) -> dict[str, Any]:
        """`GET /envelopes/{id}`: the envelope's `attributes` (status: draft|running|closed|…)."""
        answer = await self._api.call("GET", f"/envelopes/{envelope_id}")
        data = answer.get("data") or {}
        attributes = data.get("attributes") or {}
        return attributes if isinstance(attributes, dict) else {}

    async def signed_file(self, envelope_id: str, document_id: str) -> SignedFile | None:
        """The signed document, or None while ClickSign has not produced it yet."""
        answer = await self._api.call("GET", f"/envelopes/{envelope_id}/documents/{document_id}")
        data = answer.get("data") or {}
        files = (data.get("links") or {}).get("files") or {}
        url = files.get("signed")
        if not url:
            return None
        filename = str((data.get("attributes") or {}).get("filename") or "signed.pdf")
        return await self._api.signed_file(str(url), filename)


def _id(answer: dict[str, Any]) -> str:
    data = answer.get("data") or {}
    identifier = data.get("id") if isinstance(data, dict) else None
    if not identifier:
        raise ProviderError("ClickSign answered without data.id", retryable=False)
    return str(identifier)


def _as_list(value: object) -> list[int]:
    return [int(v) for v in value] if isinstance(value, list) else []


def _envelope_body(spec: RequestSpec) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        # The key in the name lets an operator find the envelope of an execution's node.
        "name": f"{spec.title} [{spec.idempotency_key}]",
        "locale": spec.locale,
        "auto_close": True,
        "block_after_refusal": spec.stop_on_refusal,
    }
    if spec.expires_at is not None:
        attributes["deadline_at"] = spec.expires_at.isoformat()
    return {"data": {"type": "envelopes", "attributes": attributes}}


def _document_body(document: DocumentFile) -> dict[str, Any]:
    encoded = base64.b64encode(document.content).decode()
    return {
        "data": {
            "type": "documents",
            "attributes": {
                "filename": document.filename,
                "content_base64": f"data:{document.content_type};base64,{encoded}",
            },
        }
    }


def _signer_body(signer: SignerSpec) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "name": signer.name,
        "email": signer.email,
        "has_documentation": False,
        "refusable": True,
    }
    if signer.phone:
        attributes["phone_number"] = signer.phone
    if signer.group is not None:
        attributes["group"] = signer.group
    return {"data": {"type": "signers", "attributes": attributes}}


def _relationships(document_id: str, signer_id: str) -> dict[str, Any]:
    return {
        "document": {"data": {"type": "documents", "id": document_id}},
        "signer": {"data": {"type": "signers", "id": signer_id}},
    }


def _qualification_body(document_id: str, signer_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "requirements",
            "attributes": {"action": "agree", "role": "sign"},
            "relationships": _relationships(document_id, signer_id),
        }
    }


def _authentication_body(document_id: str, signer_id: str, auth: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "requirements",
            "attributes": {"action": "provide_evidence", "auth": auth},
            "relationships": _relationships(document_id, signer_id),
        }
    }


def _activate_body(envelope_id: str) -> dict[str, Any]:
    return {"data": {"id": envelope_id, "type": "envelopes", "attributes": {"status": "running"}}}


def _notification_body(spec: RequestSpec) -> dict[str, Any]:
    attributes = {"message": spec.message} if spec.message else {}
    return {"data": {"type": "notifications", "attributes": attributes}}
