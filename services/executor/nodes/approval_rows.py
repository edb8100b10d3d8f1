"""The executor's reads and writes of approval rows, inside the transactions it is given."""

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.approval_rule import COUNTED
from shared.db.tables import Approval
from shared.status import ApprovalStatus


async def insert_approvals(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await conn.execute(insert(Approval), rows)


async def counted_approvals(conn: AsyncConnection, wait_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(
                    Approval.email,
                    Approval.name,
                    Approval.status,
                    Approval.comment,
                    Approval.decided_at,
                )
                .where(Approval.wait_id == wait_id, Approval.status.in_(COUNTED))
                .order_by(Approval.position, Approval.created_at)
            )
        ).all()
    )


async def expire_pending(conn: AsyncConnection, wait_id: uuid.UUID) -> None:
    await conn.execute(
        update(Approval)
        .where(Approval.wait_id == wait_id, Approval.status == ApprovalStatus.PENDING)
        .values(status=ApprovalStatus.EXPIRED, next_reminder_at=None)
    )


def approver_view(row: Any) -> dict[str, Any]:
    return {
        "email": row.email,
        "name": row.name,
        "status": row.status,
        "comment": row.comment,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }
