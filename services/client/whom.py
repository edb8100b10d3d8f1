"""Who or what a waiting node waits on, in words, for `--watch` and `executions show`."""

from typing import Any

from services.client.api import Api, ApiError


async def waiting_on(api: Api, data: dict[str, Any]) -> str:
    wait = data.get("wait") or {}
    kind = wait.get("kind", "something")
    until = f" until {wait['expires_at']}" if wait.get("expires_at") else ""
    if kind == "timer":
        return f"a timer{until}"
    if kind == "event":
        return f"event {(wait.get('rule') or {}).get('name', '')!r}{until}"
    people: list[str] = []
    if kind == "approval":
        people = await _pending_approvers(api, data)
    elif kind == "signature":
        people = await _pending_signers(api, data)
    rule = wait.get("rule") or {}
    need = f", {rule['required']} needed" if isinstance(rule.get("required"), int) else ""
    whom = f" by {', '.join(people)}" if people else ""
    return f"{kind}{whom}{need}{until}"


async def _pending_approvers(api: Api, data: dict[str, Any]) -> list[str]:
    try:
        listed = await api.request("GET", "/approvals", params={"status": "pending"})
    except ApiError:
        return []
    return [
        _person(item)
        for item in (listed or {}).get("items", [])
        if item.get("execution_id") == data.get("execution_id")
        and item.get("node_id") == data.get("node_id")
    ]


async def _pending_signers(api: Api, data: dict[str, Any]) -> list[str]:
    try:
        execution = await api.request("GET", f"/executions/{data.get('execution_id')}")
    except ApiError:
        return []
    return [
        _person(signer)
        for request in execution.get("signature_requests") or []
        if request.get("node_id") in (None, data.get("node_id"))
        for signer in request.get("signers") or []
        if signer.get("status") == "pending"
    ]


def waiting_in(execution: dict[str, Any], wait: dict[str, Any]) -> str:
    """`waiting_on` for `executions show`, from the execution's own detail (which lists its
    approvers and signers): no further request."""
    kind = wait["kind"]
    until = f" until {wait['expires_at']}" if wait.get("expires_at") else ""
    if kind == "event":
        return f"event {wait.get('name')!r}{until}"
    if kind == "approval":
        people = [
            _person(a)
            for a in execution.get("approvals") or []
            if a.get("wait_id") == wait["id"] and a.get("status") == "pending"
        ]
    elif kind == "signature":
        people = [
            _person(signer)
            for request in execution.get("signature_requests") or []
            if request.get("node_id") in (None, wait["node_id"])
            for signer in request.get("signers") or []
            if signer.get("status") == "pending"
        ]
    else:
        return f"{'a timer' if kind == 'timer' else kind}{until}"
    whom = f" by {', '.join(people)}" if people else ""
    return f"{kind}{whom}{until}"


def _person(item: dict[str, Any]) -> str:
    email = item.get("email", "?")
    return f"{item['name']} <{email}>" if item.get("name") else str(email)
