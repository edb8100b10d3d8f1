from datetime import UTC, datetime, timedelta
from typing import ClassVar

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType, Wait
from shared.db.types import utcnow
from shared.nodes.core import DelayConfig
from shared.state_machine.waits import WaitRecord, WaitSpec


class DelayNode(NodeType):
    """A timer wait: no worker sleeps; the scheduler resumes the run when it is due."""

    type_name: ClassVar[str] = "delay"
    config_model = DelayConfig

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, DelayConfig)
        now = utcnow()
        if call.config.seconds is not None:
            due = now + timedelta(seconds=call.config.seconds)
        else:
            rendered = call.render(call.config.until)
            try:
                due = _parse_time(rendered)
            except ValueError as e:
                return Failed(f"'until' is not an ISO-8601 time: {rendered!r} ({e})")
        if due <= now:
            return Completed(output={"due_at": due.isoformat(), "waited": False})
        return Wait(WaitSpec(kind="timer", expires_at=due, rule={"due_at": due.isoformat()}))

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        due = wait.rule.get("due_at")
        return Completed(output={"due_at": due, "waited": True})


def _parse_time(value: object) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    # A time without a zone is taken as UTC rather than the server's local time.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
