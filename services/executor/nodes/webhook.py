"""Outbound HTTP with an idempotency key, an optional HMAC signature, and honest retryability."""

import asyncio
import hashlib
import hmac
import json
from typing import Any, ClassVar

import aiohttp

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType
from shared.egress import failure_reason, is_refusal
from shared.http_body import body_up_to
from shared.nodes.core import WEBHOOK_DEFAULT_RETRY, WebhookConfig

SIGNATURE_HEADER = "X-DocFlow-Signature"


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
        limit = call.services.settings.http_response_max_bytes
        try:
            async with call.services.http.request(
                config.method,
                url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=config.timeout_seconds),
            ) as response:
                # A workflow needs the answer, not a download: bodies kept are capped.
                raw = await body_up_to(response, limit + 1)
                status = response.status
                content_type = response.content_type
        except TimeoutError:
            return Failed(f"{config.method} {url} timed out after {config.timeout_seconds}s", True)
        except (aiohttp.ClientError, OSError) as e:
            return Failed(f"{config.method} {url}: {failure_reason(e)}", not is_refusal(e))
        except asyncio.CancelledError:
            raise
        if len(raw) > limit:
            return Failed(
                f"{config.method} {url} answered more than DOCFLOW_HTTP_RESPONSE_MAX_BYTES "
                f"({limit} bytes)",
                retryable=False,
            )
        body = _decode_body(raw, content_type)
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
