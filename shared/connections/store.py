"""Connection rows: validated by kind, sealed before they are written, opened only to be used."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.connections.crypto import Sealer
from shared.connections.kinds import CONNECTION_KINDS, ConnectionConfig
from shared.db.tables import Connection
from shared.db.types import utcnow
from shared.errors import DocflowError, InvalidInput, NotFound
from shared.validation import parse_input

C = TypeVar("C", bound=ConnectionConfig)


class ConnectionExists(DocflowError):
    pass


class WrongConnectionKind(DocflowError):
    pass


@dataclass(frozen=True)
class ConnectionRecord:
    """What the API may show of a connection: never a value of its config."""

    id: uuid.UUID
    name: str
    kind: str
    fields: list[str]
    created_at: datetime
    updated_at: datetime


def validate_config(kind: str, config: object) -> ConnectionConfig:
    model = CONNECTION_KINDS.get(kind)
    if model is None:
        known = ", ".join(sorted(CONNECTION_KINDS))
        raise InvalidInput([{"field": "kind", "message": f"unknown kind {kind!r}; known: {known}"}])
    return parse_input(model, config, "config")


def _record(row: Connection) -> ConnectionRecord:
    return ConnectionRecord(
        row.id,
        row.name,
        row.kind,
        list(row.fields.get("names", [])),
        row.created_at,
        row.updated_at,
    )


def _fields(config: ConnectionConfig) -> dict[str, list[str]]:
    return {"names": sorted(config.model_dump(exclude_unset=True))}


async def create_connection(
    session: AsyncSession,
    sealer: Sealer,
    workspace_id: uuid.UUID,
    *,
    name: str,
    kind: str,
    config: object,
) -> ConnectionRecord:
    validated = validate_config(kind, config)
    now = utcnow()
    row = Connection(
        workspace_id=workspace_id,
        name=name,
        kind=kind,
        sealed=sealer.seal(validated.model_dump(mode="json")),
        fields=_fields(validated),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as e:
        raise ConnectionExists(f"a connection named {name!r} exists already") from e
    return _record(row)


async def replace_connection(
    session: AsyncSession, sealer: Sealer, workspace_id: uuid.UUID, connection_id: uuid.UUID,
    config: object,
) -> ConnectionRecord:  # fmt: skip
    row = await _row(session, workspace_id, connection_id)
    validated = validate_config(row.kind, config)
    row.sealed = sealer.seal(validated.model_dump(mode="json"))
    row.fields = _fields(validated)
    row.updated_at = utcnow()
    await session.flush()
    return _record(row)


async def read_connection(
    session: AsyncSession, workspace_id: uuid.UUID, connection_id: uuid.UUID
) -> ConnectionRecord:
    return _record(await _row(session, workspace_id, connection_id))


async def list_connections(
    session: AsyncSession, workspace_id: uuid.UUID
) -> list[ConnectionRecord]:
    rows = await session.scalars(
        select(Connection).where(Connection.workspace_id == workspace_id).order_by(Connection.name)
    )
    return [_record(row) for row in rows]


async def delete_connection(
    session: AsyncSession, workspace_id: uuid.UUID, connection_id: uuid.UUID
) -> None:
    deleted = await session.scalar(
        delete(Connection)
        .where(Connection.id == connection_id, Connection.workspace_id == workspace_id)
        .returning(Connection.id)
    )
    if deleted is None:
        raise NotFound("connection", connection_id)


async def load_connection(
    session: AsyncSession | AsyncConnection,
    sealer: Sealer,
    workspace_id: uuid.UUID,
    name: str,
    expected: type[C],
) -> C:
    """The decrypted config of the workspace's connection `name`, for a node to use."""
    sealed = (
        await session.execute(
            select(Connection.kind, Connection.sealed).where(
                Connection.workspace_id == workspace_id, Connection.name == name
            )
        )
    ).first()
    if sealed is None:
        raise NotFound("connection", name)
    model = CONNECTION_KINDS[sealed.kind]
    if model is not expected:
        raise WrongConnectionKind(f"connection {name!r} is a {sealed.kind} connection")
    return expected.model_validate(sealer.open(sealed.sealed))


async def _row(
    session: AsyncSession, workspace_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection:
    row = await session.scalar(
        select(Connection).where(
            Connection.id == connection_id, Connection.workspace_id == workspace_id
        )
    )
    if row is None:
        raise NotFound("connection", connection_id)
    return row
