"""What log_context binds, and what every line gets back when a block ends."""

import asyncio

import pytest
import structlog
from structlog.testing import capture_logs

from shared.logging import log_context

log = structlog.get_logger(__name__)


def _bound() -> dict[str, object]:
    return structlog.contextvars.get_contextvars()


def test_lines_inside_the_block_carry_the_values_and_lines_after_it_do_not() -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        with log_context(execution_id="e1", node_id="a"):
            log.info("inside")
        log.info("after")
    inside, after = lines
    assert (inside["execution_id"], inside["node_id"]) == ("e1", "a")
    assert "execution_id" not in after and "node_id" not in after


def test_a_nested_block_gives_the_outer_value_back_and_leaves_other_keys_alone() -> None:
    with log_context(execution_id="outer", workflow_id="w"):
        with log_context(execution_id="inner"):
            assert _bound() == {"execution_id": "inner", "workflow_id": "w"}
        assert _bound() == {"execution_id": "outer", "workflow_id": "w"}
    assert _bound() == {}


def test_the_values_are_given_back_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), log_context(execution_id="e1"):
        raise RuntimeError("node failed")
    assert _bound() == {}


async def test_concurrent_tasks_see_only_their_own_values() -> None:
    both_inside = asyncio.Barrier(2)

    async def handle(execution_id: str) -> object:
        with log_context(execution_id=execution_id):
            await both_inside.wait()
            return _bound()["execution_id"]

    assert list(await asyncio.gather(handle("e1"), handle("e2"))) == ["e1", "e2"]
    assert _bound() == {}
