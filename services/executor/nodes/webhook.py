"""Outbound HTTP with an idempotency key, an optional HMAC signature, and honest retryability."""

import asyncio
import hashlib
import hmac
import json
from typing import Any, ClassVar

import aiohttp

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType
from shared.http_body import body_up_to
from shared.nodes.core import WEBHOOK_DEFAULT_RETRY, WebhookConfig

SIGNATURE_HEADER = "X-DocFlow-Signature"
#: Bodies kept in the context are capped; a workflow needs the answer, not a download.
MAX_STORED_BODY_BYTES = 256 * 1024


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


class WebhookNode(NodeType):
    type_name: ClassVar[str] = "webhook"
    config_model = WebhookConfig
    side_effects = True
    default_retry = WEBHOOK_DEFAULT_RETRY

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, WebhookConfig)
        config = call.config
        url = str(call.render(config.url))
        headers = {str(k): str(v) for k, v in call.render(config.headers).items()}
        headers["Idempotency-Key"] = call.idempotency_key
        data: bytes | None = None
        if config.body is not None:
            data = json.dumps(call.render(config.body), separators=(",", ":")).encode()
            headers.setdefault("Content-Type", "application/json")
        if config.secret:
            headers[SIGNATURE_HEADER] = sign(config.secret, data or b"")
        try:
            async with call.services.http.request(
                config.method,
                url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=config.timeout_seconds),
            ) as response:
                raw = await body_up_to(response, MAX_STORED_BODY_BYTES + 1)
                status = response.status
                content_type = response.content_type
        except TimeoutError:
            return Failed(f"{config.method} {url} timed out after {config.timeout_seconds}s", True)
        except (aiohttp.ClientError, OSError) as e:
            return Failed(f"{config.method} {url} failed: {e!r}", retryable=True)
        except asyncio.CancelledError:
            raise
        body = _decode_body(raw[:MAX_STORED_BODY_BYTES], content_type)
        if status >= 400:
            return Failed(
                f"{config.method} {url} answered {status}: {str(body)[:500]}",
                retryable=is_retryable_status(status),
            )
        return Completed(output={"status": status, "body": body})


def _decode_body(raw: bytes, content_type: str) -> Any:
    text = raw.decode(errors="replace")
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
