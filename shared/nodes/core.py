"""Configs of the engine's own node types: trigger, set, webhook, delay."""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from shared.nodes.base import NodeConfig, RetryPolicy
from shared.templating import is_template

#: HubSpot object types a trigger can follow, and their CRM v3 path names.
HUBSPOT_OBJECT_TYPES = {"deal": "deals", "contact": "contacts", "company": "companies",
                        "ticket": "tickets"}  # fmt: skip
HubSpotObjectType = Literal["deal", "contact", "company", "ticket"]


class PropertyFilter(BaseModel):
    """Start only when this property changed to this value (`dealstage` = `closedwon`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    property: str = Field(min_length=1)
    value: str


class TriggerConfig(NodeConfig):
    """Where a run comes from, and what the first node puts into `source_data`.

    `api` (the default): the run request's `trigger_data`, as is. `webhook`: the JSON body of a
    Standard Webhooks call to `/api/v1/hooks/{workflow_id}`. `hubspot`: a HubSpot webhook event
    that matches `object_type`, `subscription_type` and `property_filter`; the node reads the
    object and its associated contacts and companies through `connection`.
    """

    source: Literal["api", "webhook", "hubspot"] = "api"
    connection: str | None = Field(default=None, min_length=1)
    object_type: HubSpotObjectType | None = None
    #: `creation`, `propertyChange`, `deletion`, … (or the full `deal.propertyChange`).
    subscription_type: str | None = Field(default=None, min_length=1)
    property_filter: PropertyFilter | None = None
    #: Extra object properties to read besides HubSpot's defaults.
    properties: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hubspot_fields(self) -> "TriggerConfig":
        hubspot_only = ("connection", "object_type", "subscription_type", "property_filter")
        if self.source != "hubspot":
            given = [name for name in hubspot_only if getattr(self, name) is not None]
            if given or self.properties:
                raise ValueError(f"{', '.join(given) or 'properties'}: only for source 'hubspot'")
            return self
        missing = [n for n in ("connection", "object_type", "subscription_type")
                   if getattr(self, n) is None]  # fmt: skip
        if missing:
            raise ValueError(f"source 'hubspot' needs {', '.join(missing)}")
        prefix, dot, _ = (self.subscription_type or "").rpartition(".")
        if dot and prefix != self.object_type:
            raise ValueError(f"subscription_type must be about {self.object_type}")
        if self.property_filter is not None and self.event_type != (
            f"{self.object_type}.propertyChange"
        ):
            raise ValueError("property_filter needs subscription_type 'propertyChange'")
        return self

    @property
    def event_type(self) -> str | None:
        """The full HubSpot `subscriptionType` this trigger starts on (`deal.propertyChange`)."""
        if self.subscription_type is None or self.object_type is None:
            return None
        return f"{self.object_type}.{self.subscription_type.rpartition('.')[2]}"


class SetConfig(NodeConfig):
    """`{"values": {name: template}}`: a cheap, pure node; its output is the rendered values."""

    values: dict[str, Any] = Field(min_length=1)


class WebhookConfig(NodeConfig):
    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret"})
    secret_entries: ClassVar[frozenset[str]] = frozenset({"headers"})

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
