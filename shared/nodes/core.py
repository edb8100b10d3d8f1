"""Configs of the engine's own node types: trigger, set, webhook, delay."""

from typing import Any, Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from shared.nodes.base import NodeConfig, RetryPolicy
from shared.templating import is_template


class TriggerConfig(NodeConfig):
    """Puts the run's trigger data into `source_data`."""


class SetConfig(NodeConfig):
    """`{"values": {name: template}}`: a cheap, pure node; its output is the rendered values."""

    values: dict[str, Any] = Field(min_length=1)


class WebhookConfig(NodeConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    #: A URL, or a template that renders to one.
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    #: When set, the body is signed: `X-DocFlow-Signature: sha256=<hex HMAC-SHA256>`.
    secret: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, url: str) -> str:
        if not is_template(url):
            HttpUrl(url)
        return url


#: Webhooks retry by default: 5xx, 429 and timeouts are worth another try.
WEBHOOK_DEFAULT_RETRY = RetryPolicy(max_attempts=3, initial_interval_seconds=1.0)


class DelayConfig(NodeConfig):
    """Either `seconds` to wait, or `until` (an ISO-8601 time, possibly templated)."""

    seconds: float | None = Field(default=None, ge=0, le=366 * 86_400)
    until: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "DelayConfig":
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of 'seconds' or 'until'")
        return self
