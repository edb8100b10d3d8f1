"""Seal the node secrets of workflow versions saved before secrets were sealed (run by
`docflow migrate` when DOCFLOW_SECRET_KEY is set). A version's meaning does not change: the
executor opens what is sealed and runs what it opens exactly as it ran the plain text."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config_secrets import SEALED_PREFIX, Models, seal_secrets
from shared.connections.crypto import Sealer
from shared.db.tables import WorkflowVersion


async def seal_plain_secrets(
    sessions: async_sessionmaker[AsyncSession], models: Models, sealer: Sealer
) -> int:
    """Seal every plain-text secret left in stored versions; returns how many versions."""
    changed = 0
    async with sessions.begin() as session:
        rows = await session.scalars(select(WorkflowVersion).with_for_update())
        for row in rows:
            if not _has_plain_secret(row.definition, models):
                continue
            nodes = [
                {**node, "config": dict(node.get("config") or {})}
                for node in row.definition.get("nodes", [])
            ]
            definition = {**row.definition, "nodes": nodes}
            # Sealed values are kept as they are; plain ones are sealed.
            kept = {
                (str(node.get("id")), field)
                for node in nodes
                for field in _fields(models, node)
                if str(node["config"].get(field) or "").startswith(SEALED_PREFIX)
            }
            row.definition = seal_secrets(definition, models, lambda: sealer, kept, row.definition)
            changed += 1
    return changed


def _fields(models: Models, node: dict[str, object]) -> frozenset[str]:
    model = models.get(str(node.get("type")))
    return model.secret_fields if model is not None else frozenset()


def _has_plain_secret(definition: dict[str, object], models: Models) -> bool:
    nodes = definition.get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        config = node.get("config") if isinstance(node, dict) else None
        if not isinstance(config, dict):
            continue
        for field in _fields(models, node):
            value = config.get(field)
            if isinstance(value, str) and not value.startswith(SEALED_PREFIX):
                return True
    return False
