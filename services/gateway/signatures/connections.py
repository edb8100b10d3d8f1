"""Save-time check of `signature` nodes naming a connection: it must be the workspace's
`clicksign` or `zapsign` connection, and agree with `provider` when both are given. A
connection not created yet is let through (the node fails clearly if it is still missing when
it runs), so workflows can be saved before their accounts are configured."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.common.problems import invalid
from shared.db.tables import Connection
from shared.esign.accounts import PROVIDER_KINDS
from shared.workflows import WorkflowDefinition


async def check_signature_connections(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: uuid.UUID,
    definition: WorkflowDefinition,
) -> None:
    """Raise a 422 naming `nodes[i].config.connection` (or `.provider`) at fault."""
    named = [
        (index, node.config)
        for index, node in enumerate(definition.nodes)
        if node.type == "signature" and isinstance(node.config.get("connection"), str)
    ]
    if not named:
        return
    async with sessions() as session:
        rows = await session.execute(
            select(Connection.name, Connection.kind).where(
                Connection.workspace_id == workspace_id,
                Connection.name.in_([config["connection"] for _, config in named]),
            )
        )
        kinds = {row.name: row.kind for row in rows}
    for index, config in named:
        name = config["connection"]
        kind = kinds.get(name)
        if kind is None:
            continue
        if kind not in PROVIDER_KINDS:
            raise invalid(
                f"nodes[{index}].config.connection",
                f"connection {name!r} is a {kind} connection, not clicksign or zapsign",
            )
        provider = config.get("provider")
        if provider is not None and provider != kind:
            raise invalid(
                f"nodes[{index}].config.provider",
                f"is {provider!r} but connection {name!r} is a {kind} connection",
            )
