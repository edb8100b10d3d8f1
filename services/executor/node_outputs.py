"""What a node may add to the context, and what its step row keeps of it.

An output must be storable as JSON (shared/storable.py) and at most
DOCFLOW_MAX_NODE_OUTPUT_BYTES, and the context with it at most DOCFLOW_MAX_CONTEXT_BYTES. A node
past any of these fails at once (no retry makes it smaller or storable), naming why, and nothing
of it is checkpointed. The output is encoded once, here, for all three checks and its summary.

Sizes are of the JSON the checkpoint would write, measured by pydantic-core's encoder: a few
microseconds for the contexts of ordinary runs.
"""

from typing import Any

import pydantic_core

from services.executor.nodes.base import Completed, Failed, NodeResult, Wait
from shared.context import ExecutionContext
from shared.settings import Settings
from shared.storable import Unstorable, encode_storable


def checked_output(
    node_id: str, result: NodeResult, context: ExecutionContext, settings: Settings
) -> tuple[bytes | None, NodeResult]:
    """The output encoded as JSON and `result`, or `result` replaced by a Failed when the
    output or context cannot be stored or goes past a limit."""
    if isinstance(result, Failed):
        return None, result
    try:
        if isinstance(result, Completed) and result.context is not None:
            encode_storable(result.context)
        encoded = None if result.output is None else encode_storable(result.output)
    except Unstorable as e:
        return None, Failed(f"output of node `{node_id}` cannot be stored: {e}", retryable=False)
    return encoded, within_limits(result, context, settings, encoded)


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
    encoded_output: bytes | None,
) -> NodeResult:
    """`result`, or a Failed naming the limit it goes past; `encoded_output` is the output as
    JSON (None for no output)."""
    if isinstance(result, Failed) or (result.output is None and not _new_context(result)):
        return result
    output_size = len(encoded_output) if encoded_output is not None else 0
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
