"""The rules the approval and signature configs share (shared/nodes/fields.py), checked on
both: one deadline at most, `required` exactly with `quorum` and no more than the people
listed, real addresses or templates, durations in range."""

from typing import Any

import pytest
from pydantic import ValidationError

from shared.errors import InvalidDefinition
from shared.nodes.approval import ApprovalConfig
from shared.nodes.base import NodeConfig
from shared.nodes.fields import duration_seconds
from shared.nodes.registry import build_config_registry
from shared.nodes.signature import SignatureConfig
from shared.workflows import validate_definition

PEOPLE = [{"name": "Ana", "email": "ana@example.com"}, {"name": "Bo", "email": "bo@example.com"}]


def approval(**changes: Any) -> dict[str, Any]:
    return {"approvers": PEOPLE, **changes}


def signature(**changes: Any) -> dict[str, Any]:
    document = {"url": "https://files.example/contract.pdf"}
    return {"provider": "clicksign", "document": document, "signers": PEOPLE, **changes}


CONFIGS: list[tuple[type[NodeConfig], Any, str]] = [
    (ApprovalConfig, approval, "strategy"),
    (SignatureConfig, signature, "rule"),
]


@pytest.mark.parametrize(("model", "config", "rule"), CONFIGS)
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires_in": "1d", "expires_at": "2030-01-01T00:00:00Z"}, "at most one of"),
        ({"RULE": "quorum"}, "'quorum' needs 'required'"),
        ({"required": 1}, "'required' is only for"),
        ({"RULE": "quorum", "required": 3}, "only 2"),
        ({"expires_in": "soon"}, "is not a duration"),
        ({"expires_in": 0}, "more than 0 seconds"),
    ],
)
def test_each_shared_rule_refuses_with_a_clear_message(
    model: type[NodeConfig], config: Any, rule: str, changes: dict[str, Any], message: str
) -> None:
    values = {rule if k == "RULE" else k: v for k, v in changes.items()}
    with pytest.raises(ValidationError, match=message):
        model.model_validate(config(**values))


@pytest.mark.parametrize(("model", "config", "rule"), CONFIGS)
def test_a_quorum_within_the_people_listed_and_one_deadline_are_accepted(
    model: type[NodeConfig], config: Any, rule: str
) -> None:
    model.model_validate(config(**{rule: "quorum", "required": 2, "expires_in": "48h"}))


@pytest.mark.parametrize(("model", "config", "rule"), CONFIGS)
def test_an_address_must_look_like_one_unless_it_is_a_template(
    model: type[NodeConfig], config: Any, rule: str
) -> None:
    key = "approvers" if model is ApprovalConfig else "signers"
    templated = [{"name": "X", "email": "{{ source.deal.contact }}"}]
    model.model_validate(config(**{key: templated}))
    with pytest.raises(ValidationError, match="is not an e-mail address"):
        model.model_validate(config(**{key: [{"name": "X", "email": "not-an-address"}]}))


def test_durations_read_units() -> None:
    assert [duration_seconds(v) for v in (90, "90s", "15m", "48h", "3d", "2w")] == [
        90,
        90,
        900,
        172_800,
        259_200,
        1_209_600,
    ]


def _gate(approvers: Any) -> dict[str, Any]:
    return {
        "name": "gate",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "ok",
                "type": "human-in-loop",
                "position": 1,
                "config": {"approvers": approvers},
            },
        ],
    }


def test_plain_addresses_in_an_approvers_list_are_approvers_as_objects_are() -> None:
    definition = validate_definition(
        _gate(["ana@example.com", {"email": "bo@example.com", "name": "Bo"}]),
        build_config_registry(),
    )

    config = ApprovalConfig.model_validate(definition.nodes[1].config)
    assert not isinstance(config.approvers, str)
    assert [(a.email, a.name) for a in config.approvers] == [
        ("ana@example.com", None),
        ("bo@example.com", "Bo"),
    ]


def test_a_bad_address_in_an_approvers_list_is_named_by_its_place_not_by_types() -> None:
    with pytest.raises(InvalidDefinition) as refused:
        validate_definition(_gate(["ana@example.com", "not an address"]), build_config_registry())

    assert refused.value.errors == [
        {
            "field": "nodes[1].config.approvers[1].email",
            "message": "Value error, 'not an address' is not an e-mail address",
        }
    ]
