"""Filling a .pptx template with python-pptx: `{{ expression }}` placeholders in text frames,
tables and groups, and table rows that repeat for each item of a list.

Only the text of existing runs changes, so every run keeps its font, bold, italic and colour.
A placeholder split over several runs (PowerPoint splits text where it likes) takes the
formatting of the run it starts in.

A table row repeats when its first cell starts with `{% for item in <expression> %}` and its
last cell ends with `{% endfor %}`: one copy per item, with `item` bound, tags removed.
"""

import copy
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree
from pptx import Presentation
from pptx.oxml.ns import qn

from shared.documents.errors import RenderError
from shared.errors import TemplateError
from shared.templating import render

_PLACEHOLDER = re.compile(r"\{\{(?P<expr>.*?)\}\}", re.DOTALL)
_TAG = re.compile(r"\{%.*?%\}", re.DOTALL)
_FOR = re.compile(r"^\s*\{%-?\s*for\s+(?P<var>[A-Za-z_]\w*)\s+in\s+(?P<expr>.+?)\s*-?%\}")
_ENDFOR = re.compile(r"\{%-?\s*endfor\s*-?%\}\s*$")


def render_pptx(template: bytes, namespace: dict[str, Any]) -> bytes:
    """CPU-bound; call it in a thread. Raises RenderError naming the placeholder at fault."""
    presentation = Presentation(io.BytesIO(template))
    for slide in presentation.slides:
        root = slide.element
        # Rows filled per item are not filled again: a value that happens to contain "{{"
        # is text, never a template.
        filled: set[etree._Element] = set()
        for row in list(root.iter(qn("a:tr"))):
            filled.update(_repeat_row(row, namespace))
        for paragraph in root.iter(qn("a:p")):
            if paragraph not in filled:
                _fill(paragraph, namespace)
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def _repeat_row(row: etree._Element, namespace: dict[str, Any]) -> list[etree._Element]:
    """The paragraphs of the copies made (none when the row is not a repeated one)."""
    cells = row.findall(qn("a:tc"))
    if not cells:
        return []
    loop = _FOR.match(_text(cells[0]))
    if loop is None or not _ENDFOR.search(_text(cells[-1])):
        return []
    items = _evaluate(loop["expr"], namespace)
    if not isinstance(items, list | tuple):
        raise RenderError(f"{loop['expr'].strip()} is not a list (a repeated row needs one)")
    filled: list[etree._Element] = []
    for item in items:
        clone = copy.deepcopy(row)
        row.addprevious(clone)
        scope = {**namespace, loop["var"]: item}
        for paragraph in clone.iter(qn("a:p")):
            _substitute(paragraph, _TAG, lambda _match: "")
            _fill(paragraph, scope)
            filled.append(paragraph)
    parent = row.getparent()
    assert parent is not None
    parent.remove(row)
    return filled


def _fill(paragraph: etree._Element, namespace: dict[str, Any]) -> None:
    def value(match: re.Match[str]) -> str:
        result = _evaluate(match["expr"], namespace)
        return "" if result is None else str(result)

    _substitute(paragraph, _PLACEHOLDER, value)


def _evaluate(expression: str, namespace: dict[str, Any]) -> Any:
    try:
        return render("{{" + expression + "}}", namespace)
    except TemplateError as e:
        raise RenderError(f"placeholder {{{{{expression}}}}}: {e}") from e


def _substitute(
    paragraph: etree._Element, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> None:
    """Replace each match of `pattern` in the paragraph's text, across run boundaries."""
    nodes = list(_text_nodes(paragraph))
    text = "".join(node.text or "" for node in nodes)
    matches = list(pattern.finditer(text))
    # From the last match back, so earlier offsets stay valid.
    for match in reversed(matches):
        replacement = replace(match)
        starts = _offsets(nodes)
        first = _node_at(starts, match.start())
        last = _node_at(starts, match.end() - 1)
        head = (nodes[first].text or "")[: match.start() - starts[first]]
        tail = (nodes[last].text or "")[match.end() - starts[last] :]
        if first == last:
            nodes[first].text = head + replacement + tail
            continue
        nodes[first].text = head + replacement
        for middle in range(first + 1, last):
            nodes[middle].text = ""
        nodes[last].text = tail


def _text_nodes(paragraph: etree._Element) -> Iterator[etree._Element]:
    """The `a:t` of each run and field, in order (line breaks carry no text)."""
    for child in paragraph:
        if child.tag in (qn("a:r"), qn("a:fld")):
            t = child.find(qn("a:t"))
            if t is not None:
                yield t


def _offsets(nodes: list[etree._Element]) -> list[int]:
    starts, position = [], 0
    for node in nodes:
        starts.append(position)
        position += len(node.text or "")
    return starts


def _node_at(starts: list[int], offset: int) -> int:
    index = 0
    for i, start in enumerate(starts):
        if start <= offset:
            index = i
    return index


def _text(cell: etree._Element) -> str:
    return "".join(t.text or "" for t in cell.iter(qn("a:t")))
