"""/api/v1/templates and /api/v1/documents over HTTP."""

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.executor.worker import ExecutorWorker
from shared.documents.kinds import CONTENT_TYPES, PDF_TYPE
from shared.runtime import Resources
from tests.documents.builders import DEAL, docx_template, pptx_template
from tests.documents.support import run_to_end
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.documented import answer_content, served_document

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
async def api(resources: Resources) -> AsyncIterator[Gateway]:
    async with running_gateway(resources) as gateway:
        yield gateway


async def _upload(
    api: Gateway, data: bytes, filename: str, name: str | None = None
) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    if name is not None:
        form.add_field("name", name)
    return await api.client.post("/api/v1/templates", data=form, headers=api.auth)


async def test_a_template_is_kept_with_its_hash_and_a_reupload_under_its_name_is_a_new_version(
    api: Gateway,
) -> None:
    first_bytes, second_bytes = docx_template(), docx_template("Version 2")
    first = await _upload(api, first_bytes, "Contract.docx")
    assert first.status == 201, await first.text()
    created = await first.json()
    assert first.headers["Location"] == f"/api/v1/templates/{created['id']}"
    assert (created["name"], created["kind"], created["version"]) == ("Contract", "docx", 1)
    assert created["sha256"] == hashlib.sha256(first_bytes).hexdigest()
    assert (created["size"], created["content_type"]) == (len(first_bytes), DOCX_TYPE)

    second = await _upload(api, second_bytes, "contract-v2.docx", name="Contract")
    assert second.status == 201
    again = await second.json()
    assert (again["id"], again["version"], again["filename"]) == (
        created["id"], 2, "contract-v2.docx",
    )  # fmt: skip
    read = await api.client.get(f"/api/v1/templates/{created['id']}", headers=api.auth)
    versions = (await read.json())["versions"]
    assert versions[0]["sha256"] != versions[1]["sha256"]
    assert [(v["version"], v["sha256"]) for v in versions] == [
        (2, hashlib.sha256(second_bytes).hexdigest()),
        (1, created["sha256"]),
    ]
    await _upload(api, pptx_template(), "Deck.pptx")
    listing = await (await api.client.get("/api/v1/templates", headers=api.auth)).json()
    assert [(t["name"], t["kind"], t["version"]) for t in listing["items"]] == [
        ("Contract", "docx", 2),
        ("Deck", "pptx", 1),
    ]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"%PDF-1.7 not a zip", "contract.docx", "is not a valid .docx package"),
        (b"plain text", "notes.txt", "must be a .docx or .pptx file"),
        (docx_template(), "deck.pptx", "is not a .pptx document"),
    ],
)
async def test_a_file_that_is_not_the_office_document_it_claims_is_refused_naming_the_file(
    api: Gateway, data: bytes, filename: str, message: str
) -> None:
    response = await _upload(api, data, filename)
    assert response.status == 422
    problem = await response.json()
    assert problem["field"] == "file" and message in problem["detail"]


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (docx_template("Total: {{ source.deal.amount + }}"), "contract.docx"),
        (docx_template("{%p if source.deal.discount %}"), "unclosed.docx"),
        (pptx_template("{{ source.deal..company }}"), "deck.pptx"),
    ],
)
async def test_a_template_whose_placeholders_do_not_parse_is_refused_when_uploaded(
    api: Gateway, data: bytes, filename: str
) -> None:
    response = await _upload(api, data, filename)
    assert response.status == 422
    problem = await response.json()
    assert problem["field"] == "file"
    assert "a placeholder does not parse" in problem["detail"]
    listing = await (await api.client.get("/api/v1/templates", headers=api.auth)).json()
    assert listing["items"] == []


async def test_a_name_keeps_its_kind_and_bad_names_are_refused(api: Gateway) -> None:
    assert (await _upload(api, docx_template(), "contract.docx")).status == 201
    other_kind = await _upload(api, pptx_template(), "x.pptx", name="contract")
    assert other_kind.status == 422
    assert "is a .docx template" in (await other_kind.json())["detail"]
    looks_like_id = await _upload(
        api, docx_template(), "x.docx", name="3f2b8c1e-1d2a-4c3b-9a8e-7f6d5c4b3a21"
    )
    assert (await looks_like_id.json())["field"] == "name"
    only_a_name = aiohttp.FormData()
    only_a_name.add_field("name", "x", content_type="text/plain")
    no_file = await api.client.post("/api/v1/templates", data=only_a_name, headers=api.auth)
    assert no_file.status == 422
    assert (await no_file.json())["field"] == "file"
    not_multipart = await api.client.post("/api/v1/templates", json={}, headers=api.auth)
    assert not_multipart.status == 415


async def test_a_template_over_the_size_limit_is_refused_with_413(resources: Resources) -> None:
    small = resources.settings.model_copy(update={"template_max_bytes": 1000})
    async with running_gateway(Resources(small, *_rest(resources))) as api:
        response = await _upload(api, docx_template(), "big.docx")
    assert response.status == 413


async def test_templates_and_documents_are_invisible_to_other_workspaces(api: Gateway) -> None:
    created = await (await _upload(api, docx_template(), "contract.docx")).json()
    other = await api.as_workspace("elsewhere")
    response = await other.client.get(f"/api/v1/templates/{created['id']}", headers=other.auth)
    assert response.status == 404
    listing = await (await other.client.get("/api/v1/templates", headers=other.auth)).json()
    assert listing["items"] == []


async def test_a_generated_document_is_served_with_its_lineage_and_bytes(
    api: Gateway, executor: ExecutorWorker
) -> None:
    resources = api.resources
    created = await (await _upload(api, docx_template(), "contract.docx")).json()
    definition: dict[str, Any] = {
        "name": "contract",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "contract", "type": "microsoft-word", "position": 1,
             "config": {"template": created["id"], "template_version": 1,
                        "filename": "Contract", "data": {"customer": "ACME"}}},
        ],
    }  # fmt: skip
    workflow = await api.create_workflow(definition)
    done = await run_to_end(resources, api.workspace_id, uuid.UUID(workflow["id"]), {"deal": DEAL})
    assert done.status == "completed", done.error
    document_id = done.context["node_outputs"]["contract"]["document"]["id"]

    read = await api.client.get(f"/api/v1/documents/{document_id}", headers=api.auth)
    assert read.status == 200
    view = await read.json()
    assert view["template"] == {"id": created["id"], "version": 1}
    assert (view["execution_id"], view["node_id"]) == (str(done.id), "contract")
    assert (view["name"], view["variant"], view["status"]) == ("Contract.docx", "document", "ready")
    assert len(view["input_sha256"]) == 64
    content_url = view["links"]["content"]
    assert content_url.endswith(f"/api/v1/documents/{document_id}/content")

    content = await api.client.get(f"/api/v1/documents/{document_id}/content", headers=api.auth)
    assert content.status == 200
    body = await content.read()
    assert hashlib.sha256(body).hexdigest() == view["sha256"] and len(body) == view["size"]
    assert content.headers["Content-Type"] == DOCX_TYPE
    assert content.headers["Content-Disposition"] == "attachment; filename*=UTF-8''Contract.docx"
    etag = content.headers["ETag"]
    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await api.client.get(
            f"/api/v1/documents/{document_id}/content",
            headers={**api.auth, "If-None-Match": held},
        )
        assert again.status == 304, held
        assert again.headers["ETag"] == etag and await again.read() == b""
    stale = await api.client.get(
        f"/api/v1/documents/{document_id}/content",
        headers={**api.auth, "If-None-Match": '"0000"'},
    )
    assert stale.status == 200 and await stale.read() == body

    listed = await api.client.get(
        "/api/v1/documents", params={"execution_id": str(done.id)}, headers=api.auth
    )
    assert [d["id"] for d in (await listed.json())["items"]] == [document_id]
    other = await api.as_workspace("elsewhere")
    for path in (f"/api/v1/documents/{document_id}", f"/api/v1/documents/{document_id}/content"):
        assert (await other.client.get(path, headers=other.auth)).status == 404


async def test_every_type_a_document_is_served_with_is_a_documented_one(api: Gateway) -> None:
    """Found by the fuzzer: a .docx was served with its own type while the document said
    application/octet-stream only. A signature node's source may declare any type."""
    document = await served_document(api)
    for operation_id in ("getDocumentContent", "getSignedDocument"):
        documented = set(answer_content(document, operation_id, 200))
        for served in [*CONTENT_TYPES.values(), PDF_TYPE, "image/png"]:
            assert served in documented or "*/*" in documented, (operation_id, served)
    assert DOCX_TYPE in answer_content(document, "getDocumentContent", 200)


def _rest(resources: Resources) -> tuple[Any, ...]:
    return (resources.engine, resources.sessions, resources.broker, resources.metrics)
