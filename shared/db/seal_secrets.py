"""Seal the node secrets of workflow versions saved before secrets were sealed (run by
`docflow migrate` when DOCFLOW_SECRET_KEY is set). A version's meaning does not change: the
executor opens what is sealed and runs what it opens exactly as it ran the plain text."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config_secrets import Models, has_plain_secret, seal_secrets
from shared.connections.crypto import Sealer
from shared.db.tables import WorkflowVersion


async def seal_plain_secrets(
    sessions: async_sessionmaker[AsyncSession], models: Models, sealer: Sealer
) -> int:
    """Seal every plain-text secret left in stored versions; returns how many versions.
    Sealed values are kept as they are."""
    changed = 0
    async with sessions.begin() as session:
        rows = await session.scalars(select(WorkflowVersion).with_for_update())
        for row in rows:
            if not has_plain_secret(row.definition, models):
                continue
            definition = {**row.definition, "nodes": list(row.definition.get("nodes", []))}
            row.definition = seal_secrets(definition, models, lambda: sealer, set(), None)
            changed += 1
    return changed
