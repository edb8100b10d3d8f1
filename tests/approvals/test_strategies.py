"""Every strategy decides by one rule: approved when approvals ≥ required, rejected when
approvals + pending < required; the run then resumes once, at the next node, with the
context it was saved with plus the decision."""

import pytest

from tests.approvals.support import Harness, approvals_of, gate_workflow, paused_context
from tests.support import steps_of, wait_for_status

A, R = "approve", "reject"

#: (strategy, required, [(approver, decision), ...], outcome after the last one)
SEQUENCES = [
    ("any", None, [(0, A)], "approved"),
    ("any", None, [(0, R), (1, R), (2, A)], "approved"),
    ("any", None, [(0, R), (1, R), (2, R)], "rejected"),
    ("all", None, [(0, A), (1, A), (2, A)], "approved"),
    ("all", None, [(0, A), (1, R)], "rejected"),
    ("all", None, [(2, R)], "rejected"),
    ("quorum", 2, [(0, A), (2, A)], "approved"),
    ("quorum", 2, [(0, R), (1, A), (2, A)], "approved"),
    ("quorum", 2, [(0, R), (1, R)], "rejected"),
    ("quorum", 2, [(0, A), (1, R), (2, R)], "rejected"),
]


@pytest.mark.parametrize(("strategy", "required", "sequence", "expected"), SEQUENCES)
async def test_a_decision_sequence_decides_exactly_at_its_last_click_and_resumes_once(
    harness: Harness,
    strategy: str,
    required: int | None,
    sequence: list[tuple[int, str]],
    expected: str,
) -> None:
    gate: dict[str, object] = {"strategy": strategy, "on_reject": "continue"}
    if required is not None:
        gate["required"] = required
    execution_id = await harness.start(gate_workflow(**gate))
    saved = await paused_context(harness.resources, execution_id)
    links = await harness.links(3)
    tokens = [links[f"approver{i}@example.com"] for i in range(3)]

    for step, (who, decision) in enumerate(sequence[:-1], start=1):
        assert await harness.click(tokens[who], decision) == 200
        # The executor looked at this decision and kept waiting: still paused.
        await harness.settled_without_decision(step)
        assert (await paused_context(harness.resources, execution_id)) == saved

    who, decision = sequence[-1]
    assert await harness.click(tokens[who], decision) == 200
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    gate_decision = done.context["approvals"]["gate"]
    assert gate_decision["outcome"] == expected
    assert gate_decision["by"] == "rule"
    assert done.context["node_outputs"]["after"] == {"seen": expected}
    # The context is the one saved at the pause, plus the decision and the nodes after it.
    rest = dict(done.context)
    assert rest.pop("approvals") == {"gate": gate_decision}
    outputs = dict(rest.pop("node_outputs"))
    assert outputs.pop("gate")["outcome"] == expected
    assert outputs.pop("after") == {"seen": expected}
    assert saved["approvals"] == {}
    assert {**rest, "node_outputs": outputs, "approvals": {}} == saved
    # Resumed once: one step per node, the gate's completed, the next node run once.
    steps = [(s.node_id, s.status) for s in await steps_of(harness.resources, execution_id)]
    assert steps == [("start", "completed"), ("gate", "completed"), ("after", "completed")]
    recorded = {a.email: a.status for a in await approvals_of(harness.resources, execution_id)}
    for who, decision in sequence:
        assert recorded[f"approver{who}@example.com"] == (
            "approved" if decision == A else "rejected"
        )


async def test_a_rejected_gate_fails_the_execution_when_on_reject_is_fail(
    harness: Harness,
) -> None:
    execution_id = await harness.start(gate_workflow(strategy="all"))
    links = await harness.links(3)
    assert await harness.click(links["approver1@example.com"], R, "price too high") == 200
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")
    assert done.status == "failed"
    assert done.error is not None and "'gate' was rejected" in done.error
    assert done.current_node_id == "gate"
    assert [s.node_id for s in await steps_of(harness.resources, execution_id)] == [
        "start",
        "gate",
    ]
