"""The running size of a context (shared/context_size.py) is the size of its whole JSON, exactly,
after every kind of change a run makes; and what changed is found without the rest."""

from typing import Any

import pydantic_core
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared import context_size
from shared.context import ExecutionContext
from shared.storable import encode_storable

#: Storable text (shared/storable.py): no lone surrogates, no U+0000.
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
#: Few names, so that outputs, errors and skips are replaced as often as added.
node_ids = st.sampled_from(["a", "b", "ü", 'q"uote', "n\\1"])

changes = st.one_of(
    st.tuples(st.just("output"), node_ids, json_values, st.booleans()),
    st.tuples(st.just("error"), node_ids, json_values),
    st.tuples(st.just("skip"), node_ids),
    st.tuples(st.just("clear"), st.sampled_from(["errors", "skipped", "node_outputs"])),
    st.tuples(
        st.just("field"),
        st.sampled_from(["source_data", "approvals", "signature_requests", "metadata"]),
        st.dictionaries(texts, json_values, max_size=3),
    ),
    st.tuples(st.just("documents"), st.lists(st.dictionaries(texts, json_values), max_size=2)),
)


def changed(
    context: ExecutionContext, change: tuple[Any, ...]
) -> tuple[ExecutionContext, dict[str, int]]:
    """`context` with `change` made the way a run makes it, and the sizes it measured."""
    match change:
        case ("output", node_id, value, known):
            # As the runner measures it: encoded alone, to check and store it.
            size = context_size.as_measured(encode_storable(value)) if known else None
            measured = {} if size is None else {node_id: size}
            return context.with_output(node_id, value), measured
        case ("error", node_id, value):
            return context.with_error(node_id, {"message": value}), {}
        case ("skip", node_id):
            return context.with_skip(node_id), {}
        case ("clear", name):
            return context.model_copy(update={name: type(getattr(context, name))()}), {}
        case ("field", name, value):
            return context.model_copy(update={name: value}), {}
        case ("documents", value):
            return context.model_copy(update={"generated_documents": value}), {}
    raise AssertionError(change)


@settings(max_examples=300)
@given(st.lists(changes, max_size=12))
# Alone, infinity and NaN encode as `Infinity` and `NaN`; inside a context, as `null`.
@example([("output", "a", float("inf"), True), ("output", "a", [float("nan")], True)])
# Equal, but not encoded alike.
@example([("output", "a", 0.0, True), ("output", "a", 0, True)])
@example([("field", "metadata", {"k": True}), ("field", "metadata", {"k": 1})])
def test_the_running_size_is_the_size_of_the_whole_json_after_every_change(
    steps: list[tuple[Any, ...]],
) -> None:
    context = ExecutionContext()
    running = context_size.size(context)
    for change in steps:
        after, measured = changed(context, change)
        running = context_size.resized(running, context, after, measured)
        assert running == len(pydantic_core.to_json(after)), change
        context = after


def test_an_unchanged_context_keeps_its_size_without_encoding_anything() -> None:
    context = ExecutionContext(source_data={"blob": "x" * 1000}).with_output("a", {"y": 1})
    assert context_size.resized(12345, context, context) == 12345
    assert list(context_size.changed_parts(context, context)) == []


def test_the_changed_parts_are_what_the_node_added_as_deep_as_the_whole_holds_them() -> None:
    before = ExecutionContext(source_data={"blob": "x" * 1000}).with_output("a", 1)
    after = before.with_output("b", [2]).model_copy(update={"approvals": {"ok": True}})

    assert list(context_size.changed_parts(before, after)) == [
        {"approvals": {"ok": True}},
        {"node_outputs": {"b": [2]}},
    ]
