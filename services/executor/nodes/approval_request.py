"""From a `human-in-loop` config and the context to a concrete gate: who, how many, until when,
and what the page and the e-mail show."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.executor.nodes.approval_rule import required_approvals
from services.executor.nodes.base import NodeCall
from shared.db.types import utcnow
from shared.nodes.approval import MAX_APPROVERS, ApprovalConfig, Approver
from shared.nodes.fields import duration_seconds, is_email


class GateError(Exception):
    """The rendered config cannot make a gate (no approvers, a bad address, quorum too high)."""


@dataclass(frozen=True)
class Gate:
    approvers: list[tuple[str, str | None]]
    required: int
    expires_at: datetime | None
    reminder_every_seconds: float | None
    rule: dict[str, Any]


def render_gate(call: NodeCall) -> Gate:
    config = call.config
    assert isinstance(config, ApprovalConfig)
    approvers = _approvers(call, config)
    if config.required is not None and config.required > len(approvers):
        raise GateError(f"'required' is {config.required} but only {len(approvers)} approvers")
    required = required_approvals(config.strategy, len(approvers), config.required)
    expires_at = _expires_at(call, config)
    reminder = duration_seconds(config.reminder_every) if config.reminder_every else None
    rule = {
        "strategy": config.strategy,
        "required": required,
        "approvers": len(approvers),
        "on_timeout": config.on_timeout,
        "on_reject": config.on_reject,
        "reminder_every_seconds": reminder,
        # What the approval page and e-mails show, rendered once, when the gate opened.
        "subject": str(call.render(config.subject)),
        "message": str(call.render(config.message)),
        "details": {str(k): str(v) for k, v in call.render(config.details).items()},
        "documents": _documents(call.context.generated_documents),
    }
    return Gate(approvers, required, expires_at, reminder, rule)


def _approvers(call: NodeCall, config: ApprovalConfig) -> list[tuple[str, str | None]]:
    raw: Any = call.render(config.approvers) if isinstance(config.approvers, str) else None
    if raw is None:
        entries = [(call.render(a.email), call.render(a.name) if a.name else None)
                   for a in config.approvers if isinstance(a, Approver)]  # fmt: skip
    else:
        entries = [_entry(item) for item in (raw if isinstance(raw, list) else [raw])]
    seen: set[str] = set()
    result: list[tuple[str, str | None]] = []
    for email, name in entries:
        email = str(email).strip()
        if not is_email(email):
            raise GateError(f"{email!r} is not an e-mail address")
        if email.lower() in seen:
            raise GateError(f"approver {email} is listed twice")
        seen.add(email.lower())
        result.append((email, str(name) if name else None))
    if not result:
        raise GateError("the approvers list rendered empty")
    if len(result) > MAX_APPROVERS:
        raise GateError(f"at most {MAX_APPROVERS} approvers")
    return result


def _entry(item: Any) -> tuple[Any, Any]:
    if isinstance(item, dict) and "email" in item:
        return item["email"], item.get("name")
    if isinstance(item, str):
        return item, None
    raise GateError(f"an approver must be an address or {{email, name}}, not {item!r}")


def _expires_at(call: NodeCall, config: ApprovalConfig) -> datetime | None:
    if config.expires_in is not None:
        return utcnow() + timedelta(seconds=duration_seconds(config.expires_in))
    if config.expires_at is None:
        return None
    rendered = call.render(config.expires_at)
    try:
        parsed = (
            rendered if isinstance(rendered, datetime) else datetime.fromisoformat(str(rendered))
        )
    except ValueError as e:
        raise GateError(f"'expires_at' is not an ISO-8601 time: {rendered!r}") from e
    # A time without a zone is taken as UTC rather than the server's local time.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _documents(documents: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    """Name and download link of each generated document, whatever the generator called them."""
    listed = []
    for document in documents:
        name = next((document[k] for k in ("name", "title", "filename") if document.get(k)), None)
        url = next((document[k] for k in ("download_url", "url", "link") if document.get(k)), None)
        listed.append({"name": str(name or "document"), "url": str(url) if url else None})
    return listed
