"""Per-workflow Standard Webhooks secrets, sealed at rest. Rotating keeps the previous secret
valid for a day, so a sender can switch over without a dropped event."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.connections.crypto import Sealer
from shared.db.tables import WebhookSecret, Workflow
from shared.db.types import utcnow
from shared.errors import NotFound
from shared.standard_webhooks import new_secret

ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret after it was created: never its value."""

    workflow_id: uuid.UUID
    created_at: datetime
    rotated_at: datetime | None
    previous_valid_until: datetime | None


def _info(row: WebhookSecret) -> SecretInfo:
    return SecretInfo(row.workflow_id, row.created_at, row.rotated_at, row.previous_valid_until)


async def _owned_workflow(
    session: AsyncSession, workspace_id: uuid.UUID, workflow_id: uuid.UUID
) -> None:
    owned = await session.scalar(
        select(Workflow.id).where(Workflow.id == workflow_id, Workflow.workspace_id == workspace_id)
    )
    if owned is None:
        raise NotFound("workflow", workflow_id)


async def create_or_rotate(
    session: AsyncSession, sealer: Sealer, workspace_id: uuid.UUID, workflow_id: uuid.UUID
) -> tuple[str, SecretInfo]:
    """A new secret (shown once); an existing one becomes the previous, valid a while longer."""
    await _owned_workflow(session, workspace_id, workflow_id)
    secret = new_secret()
    now = utcnow()
    row = await session.get(WebhookSecret, workflow_id, with_for_update=True)
    if row is None:
        row = WebhookSecret(
            workflow_id=workflow_id,
            workspace_id=workspace_id,
            sealed=sealer.seal({"secret": secret}),
            created_at=now,
        )
        session.add(row)
    else:
        row.previous_sealed = row.sealed
        row.previous_valid_until = now + ROTATION_GRACE
        row.sealed = sealer.seal({"secret": secret})
        row.rotated_at = now
    await session.flush()
    return secret, _info(row)


async def read_info(
    session: AsyncSession, workspace_id: uuid.UUID, workflow_id: uuid.UUID
) -> SecretInfo:
    row = await session.get(WebhookSecret, workflow_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("hook secret of workflow", workflow_id)
    return _info(row)


async def remove(session: AsyncSession, workspace_id: uuid.UUID, workflow_id: uuid.UUID) -> None:
    removed = await session.scalar(
        delete(WebhookSecret)
        .where(WebhookSecret.workflow_id == workflow_id, WebhookSecret.workspace_id == workspace_id)
        .returning(WebhookSecret.workflow_id)
    )
    if removed is None:
        raise NotFound("hook secret of workflow", workflow_id)


async def valid_secrets(
    session: AsyncSession, sealer: Sealer, workflow_id: uuid.UUID
) -> list[str] | None:
    """The secrets a hook may be signed with now; None when the workflow has no hook."""
    row = await session.get(WebhookSecret, workflow_id)
    if row is None:
        return None
    found = [str(sealer.open(row.sealed)["secret"])]
    if row.previous_sealed and row.previous_valid_until and row.previous_valid_until > utcnow():
        found.append(str(sealer.open(row.previous_sealed)["secret"]))
    return found
