"""Secrets in node configs are write-only, like connection secrets: a webhook's `secret`, and
the entries of its `headers` whose name says they hold one (`Authorization: Bearer …`).

Saved, each is sealed with `DOCFLOW_SECRET_KEY` (Fernet, as connections are) and stored as
`sealed:v1:<token>`; the API shows `{"set": true}` in its place; the executor opens it when it
reads the version. A PUT that sends `{"set": true}` back keeps the secret saved for that node.
Versions saved before this (plain text) still run, and are shown redacted too.

A secret is found by its path in the config: `("secret",)`, or `("headers", "Authorization")`.
"""

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shared.connections.crypto import Sealer
from shared.errors import InvalidDefinition
from shared.nodes.base import NodeConfig

SEALED_PREFIX = "sealed:v1:"
#: What the API shows for a secret that is set, and what a PUT sends to keep it.
SET_MARKER: dict[str, bool] = {"set": True}
#: Stands in for a kept secret while the definition is validated.
_PLACEHOLDER = "kept-secret"
#: Entry names (header names) that hold secrets.
_SECRET_NAME = re.compile(
    r"authorization|cookie|token|secret|passw(or)?d|api[-_]?key|session|signature|credential",
    re.IGNORECASE,
)

Models = Mapping[str, type[NodeConfig]]
Path = tuple[str, ...]
NodeSecret = tuple[str, Path]


def secret_paths(model: type[NodeConfig], config: Mapping[str, Any]) -> list[Path]:
    """Where `config` holds secrets (present or not, for the fields; present, for entries)."""
    paths: list[Path] = [(field,) for field in sorted(model.secret_fields)]
    for field in sorted(model.secret_entries):
        entries = config.get(field)
        if isinstance(entries, dict):
            paths += [(field, name) for name in entries if _SECRET_NAME.search(str(name))]
    return paths


def _get(config: Mapping[str, Any], path: Path) -> Any:
    value: Any = config
    for step in path:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _set(config: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """`config` with `value` at `path`; the dicts along the path are copied, not changed."""
    head, *rest = path
    if not rest:
        return {**config, head: value}
    inner = config.get(head)
    return {
        **config,
        head: _set(dict(inner) if isinstance(inner, dict) else {}, tuple(rest), value),
    }


def _field(index: int, path: Path) -> str:
    return f"nodes[{index}].config." + ".".join(path)


def _secrets(definition: Any, models: Models) -> Iterator[tuple[int, str, Path, Any]]:
    """(node index, node id, path, value) of each secret a definition holds."""
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if not isinstance(node, dict) or not isinstance(node.get("config"), dict):
            continue
        model = models.get(str(node.get("type")))
        if model is None:
            continue
        for path in secret_paths(model, node["config"]):
            value = _get(node["config"], path)
            if value is not None:
                yield index, str(node.get("id")), path, value


def _replace(definition: dict[str, Any], index: int, path: Path, value: Any) -> None:
    """Put `value` at `path` in node `index`'s config, in place at the node level."""
    node = dict(definition["nodes"][index])
    node["config"] = _set(node["config"], path, value)
    definition["nodes"][index] = node


def take_kept(raw: Any, models: Models) -> set[NodeSecret]:
    """The (node id, path) pairs a PUT asks to keep; their markers are swapped for a stand-in
    that validates. A sealed value sent in is refused: only DocFlow writes those."""
    kept: set[NodeSecret] = set()
    for index, node_id, path, value in list(_secrets(raw, models)):
        if value == SET_MARKER:
            kept.add((node_id, path))
            _replace(raw, index, path, _PLACEHOLDER)
        elif isinstance(value, str) and value.startswith(SEALED_PREFIX):
            raise InvalidDefinition(
                [{"field": _field(index, path),
                  "message": "send the secret itself, or {\"set\": true} to keep it"}]
            )  # fmt: skip
    return kept


def seal_secrets(
    stored: dict[str, Any],
    models: Models,
    sealer: Callable[[], Sealer],
    kept: set[NodeSecret],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """`stored` with every secret sealed, kept ones taken from `previous` (the version saved
    before). `sealer` is only asked for when there is something to seal."""
    earlier = {
        (node_id, path): value
        for _, node_id, path, value in (_secrets(previous, models) if previous else ())
    }
    for index, node_id, path, value in list(_secrets(stored, models)):
        if (node_id, path) in kept:
            before = earlier.get((node_id, path))
            if not isinstance(before, str):
                raise InvalidDefinition(
                    [{"field": _field(index, path),
                      "message": "no secret was saved for this node to keep"}]
                )  # fmt: skip
            sealed = before if before.startswith(SEALED_PREFIX) else _seal(sealer(), before)
        elif isinstance(value, str) and value.startswith(SEALED_PREFIX):
            sealed = value  # already sealed: `docflow migrate` sealing older versions
        else:
            sealed = _seal(sealer(), str(value))
        _replace(stored, index, path, sealed)
    return stored


def _seal(sealer: Sealer, value: str) -> str:
    return SEALED_PREFIX + sealer.seal({"value": value})


def has_plain_secret(definition: dict[str, Any], models: Models) -> bool:
    """Whether a saved definition holds a secret not sealed yet (saved before sealing)."""
    return any(
        not (isinstance(value, str) and value.startswith(SEALED_PREFIX))
        for *_, value in _secrets(definition, models)
    )


def redacted(definition: dict[str, Any], models: Models) -> dict[str, Any]:
    """A copy to show: each secret that is set reads `{"set": true}`."""
    shown: dict[str, Any] = {**definition, "nodes": list(definition.get("nodes") or [])}
    for index, _, path, _ in list(_secrets(definition, models)):
        _replace(shown, index, path, SET_MARKER)
    return shown


def opened(
    config: dict[str, Any], model: type[NodeConfig], sealer: Callable[[], Sealer]
) -> dict[str, Any]:
    """A node config with its sealed secrets opened, for the executor."""
    result = config
    for path in secret_paths(model, config):
        value = _get(config, path)
        if isinstance(value, str) and value.startswith(SEALED_PREFIX):
            plain = sealer().open(value.removeprefix(SEALED_PREFIX))["value"]
            result = _set(result, path, str(plain))
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
    for index, node in enumerate(nodes):
        model = models.get(str(node.get("type"))) if isinstance(node, dict) else None
        if model is not None and isinstance(node.get("config"), dict):
            nodes[index] = {**node, "config": opened(node["config"], model, sealer)}
    return {**definition, "nodes": nodes}
