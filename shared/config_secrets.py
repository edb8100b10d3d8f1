"""Secrets in node configs (a webhook's `secret`) are write-only, like connection secrets.

Saved, each is sealed with `DOCFLOW_SECRET_KEY` (Fernet, as connections are) and stored as
`sealed:v1:<token>`; the API shows `{"set": true}` in its place; the executor opens it when it
reads the version. A PUT that sends `{"set": true}` back keeps the secret saved for that node.
Versions saved before this (plain text) still run, and are shown redacted too.
"""

from collections.abc import Callable, Mapping
from typing import Any

from shared.connections.crypto import Sealer
from shared.errors import InvalidDefinition
from shared.nodes.base import NodeConfig

SEALED_PREFIX = "sealed:v1:"
#: What the API shows for a secret that is set, and what a PUT sends to keep it.
SET_MARKER: dict[str, bool] = {"set": True}
#: Stands in for a kept secret while the definition is validated.
_PLACEHOLDER = "kept-secret"

Models = Mapping[str, type[NodeConfig]]
NodeField = tuple[str, str]


def _secret_fields(models: Models, node: Any) -> frozenset[str]:
    if not isinstance(node, dict):
        return frozenset()
    model = models.get(str(node.get("type")))
    return model.secret_fields if model is not None else frozenset()


def _configs(definition: Any, models: Models) -> list[tuple[int, dict[str, Any], frozenset[str]]]:
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    found = []
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        fields = _secret_fields(models, node)
        config = node.get("config") if isinstance(node, dict) else None
        if fields and isinstance(config, dict):
            found.append((index, config, fields))
    return found


def take_kept(raw: Any, models: Models) -> set[NodeField]:
    """The (node id, field) pairs a PUT asks to keep; their markers are swapped for a stand-in
    that validates. A sealed value sent in is refused: only DocFlow writes those."""
    kept: set[NodeField] = set()
    for index, config, fields in _configs(raw, models):
        for field in fields & config.keys():
            value = config[field]
            if value == SET_MARKER:
                kept.add((str(raw["nodes"][index].get("id")), field))
                config[field] = _PLACEHOLDER
            elif isinstance(value, str) and value.startswith(SEALED_PREFIX):
                raise InvalidDefinition(
                    [{"field": f"nodes[{index}].config.{field}",
                      "message": "send the secret itself, or {\"set\": true} to keep it"}]
                )  # fmt: skip
    return kept


def seal_secrets(
    stored: dict[str, Any],
    models: Models,
    sealer: Callable[[], Sealer],
    kept: set[NodeField],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """`stored` with every secret sealed, kept ones taken from `previous` (the version saved
    before). `sealer` is only asked for when there is something to seal."""
    earlier = (
        {
            (str(previous["nodes"][index].get("id")), field): config.get(field)
            for index, config, fields in _configs(previous, models)
            for field in fields
        }
        if previous is not None
        else {}
    )
    for index, config, fields in _configs(stored, models):
        node_id = str(stored["nodes"][index].get("id"))
        for field in fields & config.keys():
            value = config[field]
            if value is None:
                continue
            if (node_id, field) in kept:
                before = earlier.get((node_id, field))
                if not isinstance(before, str):
                    raise InvalidDefinition(
                        [{"field": f"nodes[{index}].config.{field}",
                          "message": "no secret was saved for this node to keep"}]
                    )  # fmt: skip
                config[field] = (
                    before if before.startswith(SEALED_PREFIX) else _seal(sealer(), before)
                )
            else:
                config[field] = _seal(sealer(), str(value))
    return stored


def _seal(sealer: Sealer, value: str) -> str:
    return SEALED_PREFIX + sealer.seal({"value": value})


def redacted(definition: dict[str, Any], models: Models) -> dict[str, Any]:
    """A copy to show: each secret that is set reads `{"set": true}`."""
    shown: dict[str, Any] = {**definition, "nodes": list(definition.get("nodes") or [])}
    for index, config, fields in _configs(definition, models):
        hidden = {f: SET_MARKER for f in fields if config.get(f) is not None}
        if hidden:
            node = dict(shown["nodes"][index])
            node["config"] = {**config, **hidden}
            shown["nodes"][index] = node
    return shown


def opened(
    config: dict[str, Any], model: type[NodeConfig], sealer: Callable[[], Sealer]
) -> dict[str, Any]:
    """A node config with its sealed secrets opened, for the executor."""
    result = config
    for field in model.secret_fields:
        value = config.get(field)
        if isinstance(value, str) and value.startswith(SEALED_PREFIX):
            plain = sealer().open(value.removeprefix(SEALED_PREFIX))["value"]
            result = {**result, field: str(plain)}
    return result


def same_definition(
    stored: dict[str, Any],
    previous: dict[str, Any],
    models: Models,
    sealer: Callable[[], Sealer],
) -> bool:
    """Whether `stored` (about to be saved) says what `previous` says. Sealing the same secret
    twice gives two different tokens, so secrets are compared opened."""
    return _comparable(stored, models, sealer) == _comparable(previous, models, sealer)


def _comparable(
    definition: dict[str, Any], models: Models, sealer: Callable[[], Sealer]
) -> dict[str, Any]:
    nodes = list(definition.get("nodes") or [])
    for index, _, _ in _configs(definition, models):
        node = dict(nodes[index])
        node["config"] = opened(node["config"], models[str(node.get("type"))], sealer)
        nodes[index] = node
    return {**definition, "nodes": nodes}
