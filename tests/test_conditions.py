"""`when` values as steps record them, and a skipped node's output as templates see it."""

import pytest

from shared.conditions import MAX_RECORDED_CHARS, Condition
from shared.context import ExecutionContext
from shared.errors import TemplateError
from shared.templating import render


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        (False, False),
        (0, False),
        ("", False),
        ([], False),
        (None, False),
        ("false", True),
        (1, True),
    ],
)
def test_truthiness_is_python_s_on_the_typed_value(value: object, holds: bool) -> None:
    assert Condition("{{ x }}", value).holds is holds
    assert Condition("{{ x }}", value).record()["result"] is holds


def test_a_long_value_is_recorded_cut_and_an_unencodable_one_by_its_repr() -> None:
    long = Condition("{{ source.lines }}", list(range(1000))).record()
    odd = Condition("{{ x }}", object()).record()

    assert isinstance(long["value"], str) and len(long["value"]) == MAX_RECORDED_CHARS + 1
    assert long["value"].endswith("…") and long["result"] is True
    assert odd["value"].startswith("<object object at ")


def test_a_skipped_node_s_output_is_undefined_and_using_it_names_the_node() -> None:
    context = ExecutionContext(node_outputs={"price": {"total": 3}}).with_skip("cfo")
    names = context.template_namespace()

    assert render("{{ nodes.cfo is defined }}", names) is False
    assert render("{{ nodes.price.total }}", names) == 3
    with pytest.raises(TemplateError, match="node 'cfo' was skipped"):
        render("{{ nodes.cfo.outcome }}", names)
    with pytest.raises(TemplateError, match="'dict object' has no attribute 'ghost'"):
        render("{{ nodes.ghost }}", names)
