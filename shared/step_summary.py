"""What a step row keeps of a node's output: all of it when small, its shape when not (the
whole output is in the context)."""

from typing import Any

import pydantic_core

#: Output kept in a step row; the whole output is in the context.
MAX_SUMMARY_BYTES = 2048


def summarize(output: Any, encoded: bytes | None = None) -> dict[str, Any] | None:
    """What a step row keeps of an output; `encoded` is the output as JSON, when the caller
    has it already."""
    if output is None:
        return None
    if encoded is None:
        # pydantic-core's encoder: json.dumps took a tenth of the executor's time per node.
        encoded = pydantic_core.to_json(output, fallback=str)
    if len(encoded) <= MAX_SUMMARY_BYTES:
        return {"output": output}
    keys = list(output)[:50] if isinstance(output, dict) else None
    return {"truncated": True, "bytes": len(encoded), "keys": keys}
