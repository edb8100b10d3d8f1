"""The webhook node: templated requests, signatures, and what it keeps of the answer."""

import hashlib
import hmac
import json

from shared.runtime import Resources
from tests.support import Receiver, seed_workflow, start_execution, wait_for_status


async def test_a_signed_webhook_carries_an_hmac_of_the_exact_body_and_templated_headers(
    resources: Resources, executor: object, receiver: Receiver
) -> None:
    definition = {
        "name": "signed",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "call",
                "type": "webhook",
                "position": 1,
                "config": {
                    "method": "PUT",
                    "url": receiver.url + "/{{ source.deal.id }}",
                    "headers": {"X-Deal": "{{ source.deal.id }}"},
                    "body": {"deal": "{{ source.deal }}", "note": "id {{ source.deal.id }}"},
                    "secret": "s3cret",
                },
            },
        ],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    deal = {"id": 77, "amount": 12.5}
    execution_id = await start_execution(resources, workspace_id, workflow_id, {"deal": deal})

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    [call] = receiver.calls
    body = call["body"]
    assert json.loads(body) == {"deal": deal, "note": "id 77"}
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert call["headers"]["X-DocFlow-Signature"] == expected
    assert call["headers"]["X-Deal"] == "77"
    assert call["headers"]["Idempotency-Key"] == f"{execution_id}:call"
    assert call["path"] == "/hook/77"
    assert done.context["node_outputs"]["call"] == {"status": 200, "body": {"ok": True, "call": 1}}


async def test_an_answer_of_many_tcp_segments_is_kept_whole(
    resources: Resources, executor: object, receiver: Receiver
) -> None:
    # About 150 KB: many segments, under the 256 KiB kept in the context.
    receiver.extra = {"items": [f"line {n:06d} " + "x" * 90 for n in range(1500)]}
    definition = {
        "name": "big answer",
        "nodes": [
            {"id": "call", "type": "webhook", "position": 0, "config": {"url": receiver.url}}
        ],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["call"]["body"]["items"] == receiver.extra["items"]
