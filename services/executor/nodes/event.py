"""The `event` node: pause until someone calls back with a named event.

The gateway records events (`wait_events`) and stages a resume; the wait settles on the one
event accepted for this node, whenever it came: before the wait opened (settled on open), while
it was open (a `fact` resume), or at its deadline (`expired`: the event wins if it was accepted
in time). The accepted event's payload is the node's output.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType, Wait
from shared.db.tables import Wait as WaitRow
from shared.db.tables import WaitEvent
from shared.db.types import utcnow
from shared.nodes.event import EventConfig
from shared.nodes.fields import duration_seconds
from shared.state_machine.waits import WaitRecord, WaitSpec
from shared.status import WaitEventStatus


class EventNode(NodeType):
    type_name: ClassVar[str] = "event"
    config_model = EventConfig

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, EventConfig)
        config = call.config
        try:
            expires_at = _deadline(call, config)
        except ValueError as e:
            return Failed(str(e))
        spec = WaitSpec(
            kind="event",
            expires_at=expires_at,
            rule={"name": config.name, "on_timeout": config.on_timeout},
            # An event may come before this pause commits; it is applied then.
            settle_on_open=True,
            opened_reason="event",
        )
        return Wait(spec)

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        accepted = (
            await conn.execute(
                select(WaitEvent.id, WaitEvent.payload)
                .join(WaitRow, WaitRow.execution_id == WaitEvent.execution_id)
                .where(
                    WaitRow.id == wait.id,
                    WaitEvent.node_id == WaitRow.node_id,
                    WaitEvent.status == WaitEventStatus.ACCEPTED,
                )
            )
        ).first()
        if accepted is not None:
            return {"outcome": "received", "event_id": accepted.id, "payload": accepted.payload}
        if reason == "expired":
            return {"outcome": "timeout"}
        return None

    def wait_status(self, decision: dict[str, Any]) -> str:
        return "expired" if decision.get("outcome") == "timeout" else "decided"

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        decision = wait.decision or {}
        if decision.get("outcome") == "received":
            return Completed(output=decision.get("payload"))
        if wait.rule.get("on_timeout") == "continue":
            return Completed(output=None)
        deadline = wait.expires_at.isoformat() if wait.expires_at else "its deadline"
        return Failed(f"event {wait.rule.get('name')!r} did not arrive before {deadline}")


def _deadline(call: NodeCall, config: EventConfig) -> datetime | None:
    if config.expires_in is not None:
        return utcnow() + timedelta(seconds=duration_seconds(config.expires_in))
    if config.expires_at is None:
        return None
    rendered = call.render(config.expires_at)
    if isinstance(rendered, datetime):
        parsed = rendered
    else:
        try:
            parsed = datetime.fromisoformat(str(rendered))
        except ValueError as e:
            raise ValueError(f"'expires_at' is not an ISO-8601 time: {rendered!r}") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
