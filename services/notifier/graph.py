"""Microsoft Graph mail: `sendMail` with file attachments inline, or, when they are large, a
draft whose big attachments go up through upload sessions and which is then sent.

Graph answers `202 Accepted` once it took the message. 429 and 5xx (with their `Retry-After`)
and a refused token are transient; any other 4xx is this message's fault and permanent.
"""

import base64
import io
import json
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from services.notifier.graph_auth import GraphTokens
from services.notifier.message import Attachment, message_id_for
from services.notifier.outgoing import Outgoing, Receipt
from shared.connections.kinds import MicrosoftConnection
from shared.egress import failure_reason, is_refusal

#: Graph's documented line: smaller attachments are POSTed whole, larger ones use a session.
UPLOAD_SESSION_MIN_BYTES = 3 * 1024 * 1024
#: A multiple of 320 KiB, under Graph's 4 MiB per request.
CHUNK_BYTES = 320 * 1024 * 10
TIMEOUT_SECONDS = 60.0
MESSAGE_ID_HEADER = "X-DocFlow-Message-ID"


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _addresses(addresses: list[str]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": address}} for address in addresses]


def file_attachment(attachment: Attachment) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": attachment.filename,
        "contentType": attachment.content_type,
        "contentBytes": base64.b64encode(attachment.content).decode(),
    }


def message_json(outgoing: Outgoing, *, inline: bool) -> dict[str, Any]:
    m = outgoing.message
    body = (
        {"contentType": "HTML", "content": m.html}
        if m.html is not None
        else {"contentType": "Text", "content": m.text}
    )
    message: dict[str, Any] = {"subject": m.subject, "body": body, "toRecipients": _addresses(m.to)}
    if m.cc:
        message["ccRecipients"] = _addresses(m.cc)
    if m.bcc:
        message["bccRecipients"] = _addresses(m.bcc)
    # Graph mints its own Message-ID; ours, derived from the key, travels as a custom header.
    message["internetMessageHeaders"] = [
        {"name": MESSAGE_ID_HEADER, "value": message_id_for(m.idempotency_key)}
    ]
    if inline and outgoing.attachments:
        message["attachments"] = [file_attachment(a) for a in outgoing.attachments]
    return message


class GraphTransport:
    name = "graph"
    delivered_outcome = "sent"

    def __init__(
        self,
        connection: MicrosoftConnection,
        http: aiohttp.ClientSession,
        tokens: GraphTokens,
        *,
        inline_limit: int,
    ) -> None:
        self._connection = connection
        self._http = http
        self._tokens = tokens
        self._inline_limit = inline_limit

    async def send(self, outgoing: Outgoing) -> Receipt:
        if not outgoing.message.to + outgoing.message.cc + outgoing.message.bcc:
            raise PermanentDeliveryError("the e-mail has no recipients")
        if not self._connection.user:
            raise PermanentDeliveryError("the microsoft connection names no `user` to send as")
        mailbox = (
            f"{self._connection.graph_base_url.rstrip('/')}/users/{quote(self._connection.user)}"
        )
        if sum(len(a.content) for a in outgoing.attachments) <= self._inline_limit:
            body = {"message": message_json(outgoing, inline=True), "saveToSentItems": True}
            await self._call("POST", f"{mailbox}/sendMail", json=body)
            return Receipt("202 Accepted")
        draft = await self._call(
            "POST", f"{mailbox}/messages", json=message_json(outgoing, inline=False)
        )
        draft_url = f"{mailbox}/messages/{quote(str(draft['id']))}"
        for attachment in outgoing.attachments:
            if len(attachment.content) < UPLOAD_SESSION_MIN_BYTES:
                await self._call(
                    "POST", f"{draft_url}/attachments", json=file_attachment(attachment)
                )
            else:
                await self._upload(draft_url, attachment)
        await self._call("POST", f"{draft_url}/send")
        return Receipt("202 Accepted (draft sent)")

    async def _upload(self, draft_url: str, attachment: Attachment) -> None:
        item = {"AttachmentItem": {"attachmentType": "file", "name": attachment.filename,
                                   "size": len(attachment.content),
                                   "contentType": attachment.content_type}}  # fmt: skip
        session = await self._call(
            "POST", f"{draft_url}/attachments/createUploadSession", json=item
        )
        total = len(attachment.content)
        for start in range(0, total, CHUNK_BYTES):
            chunk = attachment.content[start : start + CHUNK_BYTES]
            end = start + len(chunk) - 1
            # The upload URL carries its own authorisation; a bearer token would be refused.
            await self._call(
                "PUT",
                session["uploadUrl"],
                data=chunk,
                headers={"Content-Range": f"bytes {start}-{end}/{total}",
                         "Content-Type": "application/octet-stream"},
                authorised=False,
            )  # fmt: skip

    async def _call(
        self,
        method: str,
        url: str,
        *,
        authorised: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if "json" in kwargs:
            kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
            sent["Content-Type"] = "application/json"
        if isinstance(kwargs.get("data"), bytes):
            # A file object is streamed; aiohttp warns that large raw bytes block the loop.
            kwargs["data"] = io.BytesIO(kwargs["data"])
        if authorised:
            sent["Authorization"] = f"Bearer {await self._tokens.token(self._connection)}"
        try:
            async with self._http.request(
                method, url, headers=sent, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                **kwargs,
            ) as response:  # fmt: skip
                status = response.status
                text = await response.text()
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            if is_refusal(e):
                raise PermanentDeliveryError(f"Graph {method}: {e}") from e
            raise TransientDeliveryError(f"Graph {method}: {failure_reason(e)}") from e
        if status < 300:
            return _json(text)
        reason = f"Graph answered {status} to {method} {_path(url)}: {_graph_error(text)}"
        if status == 401:
            self._tokens.forget(self._connection)
            raise TransientDeliveryError(reason)
        if status in (408, 429) or status >= 500:
            raise TransientDeliveryError(reason, retry_after=retry_after)
        raise PermanentDeliveryError(reason)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _graph_error(text: str) -> str:
    error = _json(text).get("error")
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    return text[:300]


def _path(url: str) -> str:
    # Upload URLs carry a signature in their query; it stays out of records and logs.
    return url.split("?", 1)[0]
