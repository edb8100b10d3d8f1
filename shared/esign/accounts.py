"""Whose ClickSign or ZapSign account a request uses: the settings' one, or a workspace's
`clicksign` / `zapsign` connection. A request keeps the account it was made with, so every
later call for it (poll, download, cancel) and every webhook about it goes through that
account only."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.connections.crypto import Sealer
from shared.connections.kinds import CONNECTION_KINDS, ClickSignConnection, ZapSignConnection
from shared.db.tables import Connection
from shared.errors import DocflowError
from shared.settings import Settings

PROVIDER_KINDS = ("clicksign", "zapsign")


class AccountUnavailable(DocflowError):
    """The request's connection is gone, of another kind, or cannot be decrypted."""


@dataclass(frozen=True)
class Account:
    provider: str
    base_url: str
    token: str
    #: What to name when the token is missing (a setting, or the connection).
    credential: str
    #: ClickSign: the HMAC secret; ZapSign: the header value. Empty refuses every webhook.
    webhook_secret: str
    #: ZapSign: the header its webhook sends the secret in.
    webhook_header: str
    connection_id: uuid.UUID | None = None


def settings_account(settings: Settings, provider: str) -> Account:
    if provider == "clicksign":
        return Account(
            provider="clicksign",
            base_url=settings.clicksign_base_url,
            token=settings.clicksign_access_token,
            credential="DOCFLOW_CLICKSIGN_ACCESS_TOKEN",
            webhook_secret=settings.clicksign_webhook_secret,
            webhook_header="",
        )
    return Account(
        provider="zapsign",
        base_url=settings.zapsign_base_url,
        token=settings.zapsign_api_token,
        credential="DOCFLOW_ZAPSIGN_API_TOKEN",
        webhook_secret=settings.zapsign_webhook_secret,
        webhook_header=settings.zapsign_webhook_header,
    )


@dataclass(frozen=True)
class ConnectionAccount:
    workspace_id: uuid.UUID
    name: str
    account: Account


async def connection_account(
    conn: AsyncConnection,
    sealer: Sealer,
    *,
    connection_id: uuid.UUID | None = None,
    workspace_id: uuid.UUID | None = None,
    name: str | None = None,
) -> ConnectionAccount | None:
    """The account of a `clicksign` / `zapsign` connection, by id (and workspace, when the
    caller knows it), or by name within `workspace_id`; None when there is no such connection
    of either kind."""
    query = select(
        Connection.id, Connection.workspace_id, Connection.name, Connection.kind, Connection.sealed
    ).where(Connection.kind.in_(PROVIDER_KINDS))
    if connection_id is not None:
        query = query.where(Connection.id == connection_id)
    if name is not None:
        query = query.where(Connection.name == name)
    if connection_id is None and (name is None or workspace_id is None):
        raise ValueError("a connection is found by id, or by name within a workspace")
    if workspace_id is not None:
        query = query.where(Connection.workspace_id == workspace_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    config = CONNECTION_KINDS[row.kind].model_validate(sealer.open(row.sealed))
    return ConnectionAccount(row.workspace_id, row.name, _account(row.id, row.name, config))


def _account(
    connection_id: uuid.UUID, name: str, config: ClickSignConnection | ZapSignConnection | object
) -> Account:
    credential = f"connection {name!r}"
    if isinstance(config, ClickSignConnection):
        return Account(
            provider="clicksign",
            base_url=config.base_url,
            token=config.token,
            credential=credential,
            webhook_secret=config.webhook_secret or "",
            webhook_header="",
            connection_id=connection_id,
        )
    assert isinstance(config, ZapSignConnection)
    return Account(
        provider="zapsign",
        base_url=config.base_url,
        token=config.token,
        credential=credential,
        webhook_secret=config.webhook_secret or "",
        webhook_header=config.webhook_header,
        connection_id=connection_id,
    )
