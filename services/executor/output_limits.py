"""What a node may add to the context: an output of at most DOCFLOW_MAX_NODE_OUTPUT_BYTES, and
a context of at most DOCFLOW_MAX_CONTEXT_BYTES with it. A node past either fails at once (no
retry makes it smaller), naming the limit and the size, and nothing of it is checkpointed.

Sizes are of the JSON the checkpoint would write, measured by pydantic-core's encoder: a few
microseconds for the contexts of ordinary runs.
"""

from typing import Any

import pydantic_core

from services.executor.nodes.base import Completed, Failed, NodeResult, Wait
from shared.context import ExecutionContext
from shared.settings import Settings


def _json_size(value: Any) -> int | None:
    try:
        return len(pydantic_core.to_json(value, fallback=str))
    except (ValueError, pydantic_core.PydanticSerializationError):
        # Not encodable at all: the checkpoint says so, not this measure.
        return None


def within_limits(
    result: NodeResult,
    context: ExecutionContext,
    settings: Settings,
    encoded_output: bytes | None = None,
) -> NodeResult:
    """`result`, or a Failed naming the limit it goes past; `encoded_output` is the output as
    JSON when the caller has encoded it already."""
    if isinstance(result, Failed) or (result.output is None and not _new_context(result)):
        return result
    if encoded_output is not None:
        output_size = len(encoded_output)
    else:
        output_size = _json_size(result.output) or 0
    limit = settings.max_node_output_bytes
    if output_size > limit:
        return Failed(
            f"the node's output is {output_size} bytes, over DOCFLOW_MAX_NODE_OUTPUT_BYTES "
            f"({limit} bytes)",
            retryable=False,
        )
    whole = _new_context(result) or context
    context_size = (_json_size(whole) or 0) + output_size
    limit = settings.max_context_bytes
    if context_size > limit:
        return Failed(
            f"the context would be {context_size} bytes with this node's output, over "
            f"DOCFLOW_MAX_CONTEXT_BYTES ({limit} bytes)",
            retryable=False,
        )
    return result


def _new_context(result: Completed | Wait) -> ExecutionContext | None:
    return result.context if isinstance(result, Completed) else None
