"""Bad input is the client's 4xx naming the field, never a 500: NUL characters, lone
surrogates and nesting past the limit in any JSON body, and malformed multipart uploads."""

import json
from typing import Any

import pytest

from shared.json_input import MAX_JSON_DEPTH, first_unkeepable
from tests.gateway.conftest import Gateway

RUNS = "/api/v1/workflows/{}/executions"


def nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("raw_trigger_data", "field"),
    [
        ('{"deal": {"name": "A\\u0000B"}}', "trigger_data.deal.name"),
        ('{"deal": {"name": "\\ud800"}}', "trigger_data.deal.name"),
        ('{"lines": ["ok", "\\udfff tail"]}', "trigger_data.lines[1]"),
        ('{"bad\\u0000key": 1}', "trigger_data.bad\x00key"),
    ],
)
async def test_text_postgresql_cannot_keep_is_422_naming_the_field(
    gateway: Gateway, raw_trigger_data: str, field: str
) -> None:
    workflow = await gateway.create_workflow()
    response = await gateway.client.post(
        RUNS.format(workflow["id"]),
        data=f'{{"trigger_data": {raw_trigger_data}}}',
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == field


async def test_nesting_past_the_limit_is_422_and_at_the_limit_is_accepted(
    gateway: Gateway,
) -> None:
    workflow = await gateway.create_workflow()
    # The body and trigger_data are two levels; trigger_data's value the rest.
    deepest = MAX_JSON_DEPTH - 2
    accepted = await gateway.client.post(
        RUNS.format(workflow["id"]),
        json={"trigger_data": {"x": nested(deepest)}},
        headers=gateway.auth,
    )
    refused = await gateway.client.post(
        RUNS.format(workflow["id"]),
        json={"trigger_data": {"x": nested(deepest + 1)}},
        headers=gateway.auth,
    )
    assert accepted.status == 202, await accepted.text()
    assert refused.status == 422
    problem = await refused.json()
    assert problem["field"].startswith("trigger_data.x.a")
    assert f"deeper than {MAX_JSON_DEPTH}" in problem["detail"]


async def test_nesting_past_what_the_parser_can_follow_is_a_4xx(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    body = '{"trigger_data": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001
    response = await gateway.client.post(
        RUNS.format(workflow["id"]),
        data=body,
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert 400 <= response.status < 500


async def test_a_workflow_definition_with_a_nul_is_422_naming_the_node_field(
    gateway: Gateway,
) -> None:
    definition = {
        "name": "nul",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {"id": "s", "type": "set", "position": 1, "config": {"values": {"v": "a\x00b"}}},
        ],
    }
    response = await gateway.client.post(
        "/api/v1/workflows", data=json.dumps(definition), headers=gateway.auth
    )
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == "nodes[1].config.values.v"


def test_the_checker_walks_wide_values_without_recursion() -> None:
    wide = {"items": [{"n": i} for i in range(10_000)] + ["\x00"]}
    assert first_unkeepable(wide) == ("items[10000]", "contains a NUL character (\\u0000)")


BOUNDARY = "XyZ"
MALFORMED_UPLOADS = {
    "no boundary": ("multipart/form-data", b"--XyZ\r\n\r\n--XyZ--\r\n"),
    "garbage": (f"multipart/form-data; boundary={BOUNDARY}", b"\x00\x01not multipart at all"),
    "truncated": (
        f"multipart/form-data; boundary={BOUNDARY}",
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.docx"\r\n\r\nPK',
    ),
    "no disposition": (
        f"multipart/form-data; boundary={BOUNDARY}",
        b"--XyZ\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n",
    ),
    "unknown charset": (
        f"multipart/form-data; boundary={BOUNDARY}",
        b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\n'
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhello\r\n--XyZ--\r\n",
    ),
    "undecodable name": (
        f"multipart/form-data; boundary={BOUNDARY}",
        b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe\r\n--XyZ--\r\n",
    ),
    "bad header line": (
        f"multipart/form-data; boundary={BOUNDARY}",
        b"--XyZ\r\nthis is not a header\r\n\r\nx\r\n--XyZ--\r\n",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_UPLOADS))
async def test_a_malformed_multipart_upload_is_a_4xx(gateway: Gateway, case: str) -> None:
    content_type, body = MALFORMED_UPLOADS[case]
    response = await gateway.client.post(
        "/api/v1/templates", data=body, headers={**gateway.auth, "Content-Type": content_type}
    )
    assert 400 <= response.status < 500, (response.status, await response.text())
    assert response.content_type == "application/problem+json"


def test_a_hubspot_batch_with_a_nul_is_refused_naming_the_field() -> None:
    from shared.errors import InvalidInput
    from shared.hubspot.events import parse_batch

    with pytest.raises(InvalidInput) as refused:
        parse_batch(b'[{"eventId": 1, "note": "a\\u0000b"}]')
    assert refused.value.errors[0]["field"] == "[0].note"
