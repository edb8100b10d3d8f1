"""What a node may add to the context, and what its step row keeps of it.

An output must be storable as JSON (shared/storable.py) and at most
DOCFLOW_MAX_NODE_OUTPUT_BYTES, and the context with it at most DOCFLOW_MAX_CONTEXT_BYTES. A node
past any of these fails at once (no retry makes it smaller or storable), naming why, and nothing
of it is checkpointed. The output is encoded once, here, for all three checks and its summary.

Sizes are of JSON as pydantic-core's encoder writes it. The size checked against
DOCFLOW_MAX_CONTEXT_BYTES is, exactly:

    len(JSON of the context the output joins) + len(JSON of the output)

where the context the output joins is the one the node handed back (`Completed.context`) or
else the run's context as last checkpointed, whole (outputs included). The output's key
(`"node_id":`) is not counted, and an earlier output of the same node that this one replaces
is counted as well: the definition this check always had, kept as it was.

The first term is a running figure (`RunProgress.context_bytes`, `shared/context_size.py`):
measured once per claim, then kept by each checkpoint from what it added, so a check costs
what the node added, not the size of the context.
"""

from services.executor.nodes.base import Completed, Failed, NodeResult, Wait
from services.executor.progress import RunProgress
from shared import context_size
from shared.context import ExecutionContext
from shared.settings import Settings
from shared.storable import Unstorable, encode_storable


def checked_output(
    node_id: str, result: NodeResult, run: RunProgress, settings: Settings
) -> tuple[bytes | None, NodeResult]:
    """The output encoded as JSON and `result`, or `result` replaced by a Failed when the
    output or context cannot be stored or goes past a limit."""
    if isinstance(result, Failed):
        return None, result
    try:
        if isinstance(result, Completed) and result.context is not None:
            for part in context_size.changed_parts(run.context, result.context):
                encode_storable(part)
        encoded = None if result.output is None else encode_storable(result.output)
    except Unstorable as e:
        return None, Failed(f"output of node `{node_id}` cannot be stored: {e}", retryable=False)
    return encoded, within_limits(result, run, settings, encoded)


def within_limits(
    result: NodeResult,
    run: RunProgress,
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
    joined = _new_context(result) or run.context
    context_size = run.bytes_of(joined, {}) + output_size
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
