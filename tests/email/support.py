"""E-mail test helpers: documents of an execution, connections, a test node that "generates"
documents, and a local server that behaves like Microsoft Graph (token, mail, upload sessions)."""

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs

from aiohttp import web
from sqlalchemy import insert

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType
from shared.connections import create_connection
from shared.connections.crypto import Sealer
from shared.db.tables import Document, SignatureRequest, SignedDocument
from shared.db.types import utcnow
from shared.nodes.base import NodeConfig
from shared.runtime import Resources

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


async def add_document(
    resources: Resources,
    *,
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    node_id: str,
    name: str,
    content_type: str,
    content: bytes,
) -> dict[str, Any]:
    """A ready document row; returns its `generated_documents` entry."""
    document_id = uuid.uuid4()
    async with resources.sessions.begin() as session:
        await session.execute(
            insert(Document).values(
                id=document_id,
                workspace_id=workspace_id,
                execution_id=execution_id,
                node_id=node_id,
                idempotency_key=f"{execution_id}:{node_id}",
                input_sha256=hashlib.sha256(name.encode()).hexdigest(),
                variant="document",
                status="ready",
                name=name,
                content_type=content_type,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                content=content,
                provider_ids={},
                links={},
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    return {
        "id": str(document_id),
        "name": name,
        "content_type": content_type,
        "size": len(content),
        "node_id": node_id,
        "variant": "document",
        "links": {},
    }


async def add_signed_document(
    resources: Resources,
    *,
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    node_id: str,
    filename: str,
    content: bytes,
) -> dict[str, Any]:
    """A file a `signature` node's provider returned signed, with the request it belongs to;
    returns its `generated_documents` entry as the signature node writes it."""
    request_id, document_id = uuid.uuid4(), uuid.uuid4()
    async with resources.sessions.begin() as session:
        await session.execute(
            insert(SignatureRequest).values(
                id=request_id,
                workspace_id=workspace_id,
                execution_id=execution_id,
                node_id=node_id,
                idempotency_key=f"{execution_id}:{node_id}",
                provider="clicksign",
                wait_id=uuid.uuid4(),
                status="signed",
                rule={"rule": "all"},
                title=filename,
                progress={},
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        await session.execute(
            insert(SignedDocument).values(
                id=document_id,
                workspace_id=workspace_id,
                execution_id=execution_id,
                request_id=request_id,
                filename=filename,
                content_type="application/pdf",
                size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
                created_at=utcnow(),
            )
        )
    return {"id": str(document_id), "name": filename, "node_id": node_id, "variant": "signed"}


async def add_connection(
    resources: Resources, workspace_id: uuid.UUID, name: str, kind: str, config: dict[str, Any]
) -> None:
    async with resources.sessions.begin() as session:
        await create_connection(
            session,
            Sealer(resources.settings.secret_key),
            workspace_id,
            name=name,
            kind=kind,
            config=config,
        )


class FilesConfig(NodeConfig):
    #: name -> text content
    files: dict[str, str]


class MakeFiles(NodeType):
    """Stands in for the Word/PowerPoint nodes: stores documents and lists them in the context."""

    type_name: ClassVar[str] = "make-files"
    config_model = FilesConfig

    def __init__(self, resources: Resources) -> None:
        self._resources = resources

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, FilesConfig)
        made = [await self._store(call, name, text) for name, text in call.config.files.items()]
        context = call.context.model_copy(
            update={"generated_documents": [*call.context.generated_documents, *made]}
        )
        return Completed(output={"documents": made}, context=context)

    async def _store(self, call: NodeCall, name: str, text: str) -> dict[str, Any]:
        return await add_document(
            self._resources,
            workspace_id=call.workspace_id,
            execution_id=call.execution_id,
            node_id=call.node_id,
            name=name,
            content_type=DOCX if name.endswith("x") else "text/plain",
            content=text.encode(),
        )


class SignFiles(MakeFiles):
    """Stands in for a `signature` node whose signers all signed: stores each file as the
    provider's signed copy and lists it as that node does (variant `signed`)."""

    type_name: ClassVar[str] = "sign-files"

    async def _store(self, call: NodeCall, name: str, text: str) -> dict[str, Any]:
        return await add_signed_document(
            self._resources,
            workspace_id=call.workspace_id,
            execution_id=call.execution_id,
            node_id=call.node_id,
            filename=name,
            content=text.encode(),
        )


@dataclass
class FakeGraph:
    """Answers like login.microsoftonline.com and graph.microsoft.com/v1.0 for mail."""

    #: (status, headers) to answer the next mail requests with, before answering normally.
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    url: str = ""
    uploads: dict[str, bytearray] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def mail_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "/oauth2/" not in r["path"]]

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        record = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "body": raw,
            "at": time.monotonic(),
        }
        self.requests.append(record)
        if request.path.endswith("/oauth2/v2.0/token"):
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            record["form"] = form
            if form.get("client_secret") != "graph-secret":
                return web.json_response({"error": "invalid_client"}, status=401)
            self.tokens_issued += 1
            return web.json_response(
                {
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "access_token": f"token-{self.tokens_issued}",
                }
            )
        if request.path.startswith("/upload/"):
            return self._upload(request, raw)
        if not request.headers.get("Authorization", "").startswith("Bearer token-"):
            return web.json_response({"error": {"code": "InvalidAuthenticationToken"}}, status=401)
        if self.failures:
            status, headers, body = self.failures.pop(0)
            return web.json_response(body, status=status, headers=headers)
        return self._mail(request, raw)

    def _mail(self, request: web.Request, raw: bytes) -> web.Response:
        parts = request.path.split("/")  # /v1.0/users/{user}/...
        body: dict[str, Any] = json.loads(raw) if raw else {}
        tail = parts[4:]
        if tail == ["sendMail"]:
            self.sent.append(body["message"])
            return web.Response(status=202)
        if tail == ["messages"]:
            draft_id = f"AAMk{len(self.drafts)}"
            self.drafts[draft_id] = {**body, "attachments": []}
            return web.json_response({"id": draft_id, **body}, status=201)
        draft = self.drafts.get(tail[1]) if len(tail) > 1 else None
        if draft is None:
            return web.json_response({"error": {"code": "ErrorItemNotFound"}}, status=404)
        if tail[2:] == ["attachments"]:
            draft["attachments"].append(body)
            return web.json_response({"id": "att", **body}, status=201)
        if tail[2:] == ["attachments", "createUploadSession"]:
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = bytearray()
            draft["attachments"].append({"upload": upload_id, **body["AttachmentItem"]})
            return web.json_response(
                {
                    "uploadUrl": f"{self.url}/upload/{upload_id}?sig=abc",
                    "expirationDateTime": "2030-01-01T00:00:00Z",
                    "nextExpectedRanges": ["0-"],
                },
                status=201,
            )
        if tail[2:] == ["send"]:
            self.sent.append(draft)
            return web.Response(status=202)
        return web.json_response({"error": {"code": "BadRequest"}}, status=400)

    def _upload(self, request: web.Request, raw: bytes) -> web.Response:
        upload = self.uploads[request.path.rsplit("/", 1)[1]]
        spec = request.headers["Content-Range"].removeprefix("bytes ")
        span, total = spec.split("/")
        start, end = (int(x) for x in span.split("-"))
        assert start == len(upload) and end - start + 1 == len(raw)
        upload.extend(raw)
        if len(upload) == int(total):
            return web.json_response({}, status=201)
        return web.json_response({"nextExpectedRanges": [f"{len(upload)}-"]}, status=200)

    async def start(self) -> "FakeGraph":
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket private
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def graph_connection(graph: FakeGraph) -> dict[str, Any]:
    return {
        "tenant_id": "contoso",
        "client_id": "app-id",
        "client_secret": "graph-secret",
        "user": "sales@contoso.example",
        "graph_base_url": graph.graph_url,
        "login_base_url": graph.url,
    }
