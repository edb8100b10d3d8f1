"""What the document nodes share: the database handle, connections, the template namespace,
and how produced documents enter the context."""

from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult
from shared.connections import ConnectionConfig, load_connection
from shared.connections.crypto import Sealer
from shared.documents import DocumentMeta
from shared.errors import DocflowError

C = TypeVar("C", bound=ConnectionConfig)


class NoDatabase(DocflowError):
    """Document nodes keep what they produce in the database; this executor has none."""


async def as_result(run: Awaitable[NodeResult]) -> NodeResult:
    """Known errors as failures, retryable as the error says. A database error is worth
    another attempt: what the node produced so far is recorded, and the next one goes on."""
    try:
        return await run
    except DocflowError as e:
        return Failed(str(e), retryable=e.retryable)
    except SQLAlchemyError as e:
        return Failed(f"database error: {type(e).__name__}: {e}"[:500], retryable=True)


def engine_of(call: NodeCall) -> AsyncEngine:
    if call.services.engine is None:
        raise NoDatabase("document nodes need NodeServices.engine")
    return call.services.engine


async def connection_of(call: NodeCall, name: str, kind: type[C]) -> C:
    sealer = Sealer(call.services.settings.secret_key)
    async with engine_of(call).connect() as conn:
        return await load_connection(conn, sealer, call.workspace_id, name, kind)


def namespace(call: NodeCall) -> dict[str, Any]:
    """The names a template sees: the same as in node configs (`source`, `nodes`, …)."""
    return call.namespace()


def content_link(call: NodeCall, document: DocumentMeta) -> str:
    base = call.services.settings.public_url.rstrip("/")
    return f"{base}/api/v1/documents/{document.id}/content"


def entry(call: NodeCall, document: DocumentMeta) -> dict[str, Any]:
    """A `generated_documents` entry, with the API link to its bytes beside provider links."""
    item = document.context_entry()
    item["links"] = {**item["links"], "content": content_link(call, document)}
    return item


def documents_completed(
    call: NodeCall, document: DocumentMeta, pdf: DocumentMeta | None = None
) -> Completed:
    """Output `{"document", "pdf", "url"}`; both documents appended to `generated_documents`.

    `url` is where people open it: the provider's copy when there is one, else DocFlow's.
    """
    produced = [entry(call, document)] + ([entry(call, pdf)] if pdf is not None else [])
    ids = {item["id"] for item in produced}
    kept = [item for item in call.context.generated_documents if item.get("id") not in ids]
    context = call.context.model_copy(update={"generated_documents": [*kept, *produced]})
    output = {
        "document": produced[0],
        "pdf": produced[1] if pdf is not None else None,
        "url": document.links.get("web") or content_link(call, document),
    }
    return Completed(output=output, context=context)
