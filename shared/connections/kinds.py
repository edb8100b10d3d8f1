"""What each kind of connection holds. Base URLs are configurable so tests (and sandboxes) can
point a connection at a local server that behaves like the provider."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConnectionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HubSpotConnection(ConnectionConfig):
    #: Private-app access token for the CRM API.
    access_token: str = Field(min_length=1)
    #: The app's client secret, for verifying X-HubSpot-Signature-v3 on webhooks.
    client_secret: str | None = Field(default=None, min_length=1)
    base_url: str = "https://api.hubapi.com"


class GoogleConnection(ConnectionConfig):
    #: The service account's JSON key as Google issues it (client_email, private_key, token_uri…).
    service_account_info: dict[str, Any]
    #: Overrides the key's token_uri (tests, proxies).
    token_url: str | None = None
    drive_base_url: str = "https://www.googleapis.com"
    docs_base_url: str = "https://docs.googleapis.com"
    slides_base_url: str = "https://slides.googleapis.com"
    #: Drive folder that generated files are copied into.
    folder_id: str | None = None


class MicrosoftConnection(ConnectionConfig):
    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    #: Mailbox (user id or UPN) that sends mail and owns the OneDrive uploads.
    user: str | None = None
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    login_base_url: str = "https://login.microsoftonline.com"


class SmtpConnection(ConnectionConfig):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    #: An app password for Gmail.
    password: str | None = None
    starttls: bool = True
    from_address: str = Field(min_length=3)


class ClickSignConnection(ConnectionConfig):
    #: The account's API access token (sent as the bare `Authorization`).
    token: str = Field(min_length=1)
    base_url: str = "https://app.clicksign.com"
    #: The HMAC SHA256 secret ClickSign shows when the account's webhook is registered; every
    #: webhook on this connection's URL must carry a `Content-Hmac` made with it. Unset: every
    #: webhook is refused.
    webhook_secret: str | None = Field(default=None, min_length=1)


class ZapSignConnection(ConnectionConfig):
    #: The account's API token (sent as `Authorization: Bearer <token>`).
    token: str = Field(min_length=1)
    base_url: str = "https://api.zapsign.com.br"
    #: ZapSign signs nothing: its webhook is configured to send this header with this value.
    #: Unset: every webhook is refused.
    webhook_secret: str | None = Field(default=None, min_length=1)
    webhook_header: str = Field(
        default="X-DocFlow-Webhook-Secret", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$"
    )


CONNECTION_KINDS: dict[str, type[ConnectionConfig]] = {
    "hubspot": HubSpotConnection,
    "google": GoogleConnection,
    "microsoft": MicrosoftConnection,
    "smtp": SmtpConnection,
    "clicksign": ClickSignConnection,
    "zapsign": ZapSignConnection,
}
