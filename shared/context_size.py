"""The size of an execution context as JSON, kept as a running figure while a run adds to it.

`size(context)` is `len` of the JSON pydantic-core writes for the whole context (outputs
included, `errors` and `skipped` left out while empty, as in a snapshot). Finding it encodes
everything, so a run does it once per claim at most; after that `resized` gives the size of
each next context from the last one's and from what changed. Nodes make contexts by copying
with changes (`with_output`…), so the parts they left alone are the very same objects
(`shared.context.added`): what is not the same object is measured, the rest is not looked at,
and the cost is what the node added, not the context.

`resized` is exact, not an estimate: the encoding of a context is its fields' encodings
joined, so a changed part changes the whole by its own difference in length (its key, colon
and comma included). Tests hold it to `size` for contexts changed every way a run changes them.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import pydantic_core

from shared.context import LEFT_OUT_WHEN_EMPTY, ExecutionContext, changed_outputs

_FIELDS = tuple(ExecutionContext.model_fields)
_ABSENT = object()
_NOTHING_MEASURED: Mapping[str, int] = {}


def size(context: ExecutionContext) -> int:
    """Bytes of the context's JSON, found by encoding it whole."""
    return len(pydantic_core.to_json(context, fallback=str))


def resized(
    size_before: int,
    before: ExecutionContext,
    after: ExecutionContext,
    measured: Mapping[str, int] | None = None,
) -> int:
    """`size(after)`, given `size_before == size(before)`. `measured` holds the encoded sizes
    of outputs of `after` already known (a node's output is encoded once, to check and store
    it); any other output that changed is encoded here, and so is each changed field."""
    total = size_before
    # A model's fields are its __dict__: read there, the common case (one output added, the
    # rest the same objects) costs a few identity tests.
    was, now = before.__dict__, after.__dict__
    for name in _FIELDS:
        old, new = was[name], now[name]
        if old is new:
            continue
        # Not `old == new`, which holds for values that encode differently (1 and True, 0
        # and 0.0): a part that is not the same object is measured again.
        if name == "node_outputs":
            total += _outputs_delta(old, new, measured or _NOTHING_MEASURED)
        else:
            total += _field(name, new) - _field(name, old)
    return total


def as_measured(encoded: bytes) -> int | None:
    """The size an output encoded alone (`shared.storable.encode_storable`) has inside the
    context's JSON, or None when the two may differ: alone, pydantic-core writes infinity and
    NaN as `Infinity` and `NaN`, inside a model as `null`. A None has `resized` encode the
    output again, so the figure stays exact."""
    if b"Infinity" in encoded or b"NaN" in encoded:
        return None
    return len(encoded)


def changed_parts(before: ExecutionContext, after: ExecutionContext) -> Iterator[dict[str, Any]]:
    """Each part of `after` that is not that of `before` (a field, or one node output), as
    deep in a JSON object as the whole context's JSON holds it: encoding these finds what
    encoding all of `after` would find wrong in what changed, without encoding the rest."""
    for name in _FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        if old is new or old == new:
            continue
        if name != "node_outputs":
            yield {name: new}
            continue
        for node_id, output in changed_outputs(old, new).items():
            yield {name: {node_id: output}}


def _field(name: str, value: Any) -> int:
    """What a field adds to the encoding: `"name":value` and a comma (0 when left out). The
    first field has no comma before it, but the first is always `source_data`, written by
    every context: the comma counted too many is the same before and after a change."""
    if name in LEFT_OUT_WHEN_EMPTY and not value:
        return 0
    return len(name) + 4 + _encoded(value)


def _outputs_delta(old: dict[str, Any], new: dict[str, Any], measured: Mapping[str, int]) -> int:
    """How much longer `{"a":…,"b":…}` is for `new` than for `old`: by entry, `"id":output`,
    and by the commas between entries."""
    get = old.get
    changed = [node_id for node_id, output in new.items() if get(node_id, _ABSENT) is not output]
    delta = _commas(len(new)) - _commas(len(old))
    added = 0
    for node_id in changed:
        output, earlier = new[node_id], get(node_id, _ABSENT)
        if earlier is _ABSENT:
            added += 1
            delta += _entry(node_id, output, measured)
        else:
            delta += _entry(node_id, output, measured) - _entry(node_id, earlier, {})
    if len(new) - added < len(old):
        # No run removes an output; should one, the figure stays right.
        delta -= sum(_entry(k, v, {}) for k, v in old.items() if k not in new)
    return delta


def _entry(node_id: str, output: Any, measured: Mapping[str, int]) -> int:
    known = measured.get(node_id)
    return _encoded(node_id) + 1 + (known if known is not None else _encoded(output))


def _commas(entries: int) -> int:
    return max(entries - 1, 0)


def _encoded(value: Any) -> int:
    # As a model writes a value of a field typed Any (`null` for infinity and NaN).
    return len(pydantic_core.to_json(value, fallback=str, inf_nan_mode="null"))
