"""`when` and `on_error` are checked when a workflow is saved: refused with 422 naming
`nodes[i].when`, or saved with a warning when a `when` can only render a string."""

from typing import Any

import pytest

from tests.gateway.conftest import Gateway

TRIGGER = {"id": "start", "type": "trigger", "position": 0}


def _set(node_id: str, position: int, **node: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "set",
        "position": position,
        "config": {"values": {"x": 1}},
        **node,
    }


def _workflow(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "conditional", "nodes": list(nodes)}


@pytest.mark.parametrize(
    ("nodes", "field", "says"),
    [
        pytest.param(
            [TRIGGER, _set("a", 1, when="{{ source.amount > }}")],
            "nodes[1].when",
            "does not parse",
            id="does-not-parse",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1, when="{{ nodes.b.x > 1 }}"), _set("b", 2)],
            "nodes[1].when",
            "'b' is not a node earlier",
            id="names-a-later-node",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1, when="{{ nodes.get('b') }}"), _set("b", 2)],
            "nodes[1].when",
            "'b' is not a node earlier",
            id="gets-a-later-node",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1, when="{{ nodes.a is defined }}")],
            "nodes[1].when",
            "'a' is not a node earlier",
            id="names-itself",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1), _set("b", 2, when="{{ errors['ghost'] is defined }}")],
            "nodes[2].when",
            "'ghost' is not a node earlier",
            id="names-no-node",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1), _set("b", 2, when="{{ approvals.later.outcome }}")],
            "nodes[2].when",
            "'later' is not a node earlier",
            id="approval-of-no-earlier-node",
        ),
        pytest.param(
            [{**TRIGGER, "when": "{{ true }}"}, _set("a", 1)],
            "nodes[0].when",
            "trigger",
            id="on-the-trigger",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1, on_error="ignore")],
            "nodes[1].on_error",
            "",
            id="unknown-on-error",
        ),
    ],
)
async def test_a_bad_when_is_refused_with_422_naming_the_node_s_when(
    gateway: Gateway, nodes: list[dict[str, Any]], field: str, says: str
) -> None:
    for method, path in [
        ("POST", "/api/v1/workflows"),
        ("PUT", f"/api/v1/workflows/{(await gateway.create_workflow())['id']}"),
    ]:
        response = await gateway.client.request(
            method, path, json=_workflow(*nodes), headers=gateway.auth
        )

        assert response.status == 422, await response.text()
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = await response.json()
        assert problem["status"] == 422 and problem["field"] == field
        [error] = [e for e in problem["errors"] if e["field"] == field]
        assert says in error["message"]


async def test_a_when_may_name_any_node_earlier_by_position_whatever_the_list_order(
    gateway: Gateway,
) -> None:
    nodes = [
        _set(
            "late",
            2,
            when="{{ nodes.early.x == 1 and errors.early is not defined "
            "and nodes.get('early') and 'early' not in errors.keys() }}",
        ),
        TRIGGER,
        _set("early", 1, on_error="continue"),
    ]
    response = await gateway.client.post(
        "/api/v1/workflows", json=_workflow(*nodes), headers=gateway.auth
    )

    assert response.status == 201, await response.text()
    saved = await response.json()
    assert "warnings" not in saved
    late, trigger, early = saved["definition"]["nodes"]
    assert late["when"] == nodes[0]["when"] and early["on_error"] == "continue"
    # Left out where unused: stored as before, for executors that do not know them yet.
    assert "on_error" not in late and "when" not in early
    assert set(trigger) == {"id", "type", "position", "config"}


@pytest.mark.parametrize(
    "when",
    [
        "{{ source.flag }} == true",
        "false",
        "{{ 'false' }}",
        "{{ source.owner ~ '' }}",
        "{{ source.owner | lower }}",
    ],
)
async def test_a_when_that_can_only_render_a_string_is_saved_with_a_warning(
    gateway: Gateway, when: str
) -> None:
    response = await gateway.client.post(
        "/api/v1/workflows", json=_workflow(TRIGGER, _set("a", 1, when=when)), headers=gateway.auth
    )

    assert response.status == 201, await response.text()
    [warning] = (await response.json())["warnings"]
    assert warning["field"] == "nodes[1].when"
    assert '"false"' in warning["message"]


async def test_a_typed_when_is_saved_without_a_warning(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/workflows",
        json=_workflow(TRIGGER, _set("a", 1, when="{{ source.flag }}")),
        headers=gateway.auth,
    )

    assert response.status == 201
    assert "warnings" not in await response.json()
