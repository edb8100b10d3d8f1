"""Publishing to OneDrive/SharePoint: the fake Graph gets exactly the documented requests."""

import os

import aiohttp
from sqlalchemy import func, select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.connections.crypto import new_secret_key
from shared.db.tables import Document
from shared.documents.kinds import CONTENT_TYPES
from shared.providers_http.graph_drive import RANGE_UNIT, GraphDrive
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.documents.builders import DEAL, docx_template, pptx_template
from tests.documents.fakes import GRAPH_TOKEN, FakeGraph, fixture
from tests.documents.support import (
    MAILBOX,
    add_microsoft,
    add_template,
    run_to_end,
    running_executor,
    seed,
    stored,
)

DRIVE = f"/v1.0/users/{MAILBOX}/drive"


def contract(**upload: object) -> dict[str, object]:
    return {
        "id": "contract",
        "type": "microsoft-word",
        "config": {
            "template": "contract",
            "filename": "Contract {{ source.deal.company }}",
            "data": {"customer": "ACME"},
            "upload": {"connection": "m365", **upload},
        },
    }


async def test_a_word_document_is_uploaded_and_converted_with_the_documented_graph_requests(
    pg_resources: Resources, pg_executor: ExecutorWorker, graph: FakeGraph
) -> None:
    resources = pg_resources
    workspace_id, workflow_id = await seed(
        resources, contract(folder="Contracts/{{ source.deal.company }}", pdf=True)
    )
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    await add_microsoft(resources, workspace_id, graph)

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "completed", done.error
    [token] = graph.called("POST", r"/contoso-tenant/oauth2/v2\.0/token")
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token.form() == {
        "client_id": "docflow-app",
        "scope": "https://graph.microsoft.com/.default",
        "client_secret": "s3cret",
        "grant_type": "client_credentials",
    }
    [put] = graph.called("PUT", r".*:/content")
    assert put.path == f"{DRIVE}/root:/Contracts/Acme & Sons/Contract Acme & Sons.docx:/content"
    assert " " not in put.raw_path and "%20" in put.raw_path
    assert put.headers["Authorization"] == f"Bearer {GRAPH_TOKEN}"
    assert put.headers["Content-Type"] == CONTENT_TYPES["docx"]
    output = done.context["node_outputs"]["contract"]
    docx, data = await stored(resources, workspace_id, output["document"]["id"])
    assert put.body == data
    item_id = fixture("graph_driveitem_put_response.json")["id"]
    [convert] = graph.called("GET", rf"{DRIVE}/items/{item_id}/content")
    assert convert.query == {"format": "pdf"}
    assert convert.headers["Authorization"] == f"Bearer {GRAPH_TOKEN}"
    pdf, pdf_bytes = await stored(resources, workspace_id, output["pdf"]["id"])
    assert pdf_bytes.startswith(b"%PDF") and item_id.encode() in pdf_bytes
    assert (pdf.name, pdf.variant, pdf.derived_from) == ("Contract Acme & Sons.pdf", "pdf", docx.id)
    assert docx.provider_ids["graph"]["item_id"] == item_id
    web = (
        "https://contoso-my.sharepoint.com/personal/Contracts/Acme & Sons/Contract Acme & Sons.docx"
    )
    assert output["url"] == docx.links["web"] == web
    assert [d["id"] for d in done.context["generated_documents"]] == [str(docx.id), str(pdf.id)]


async def test_a_file_over_the_simple_upload_limit_goes_through_an_upload_session(
    pg_settings: Settings, graph: FakeGraph
) -> None:
    settings = pg_settings.model_copy(
        update={"secret_key": new_secret_key(), "graph_simple_upload_max_bytes": 1024}
    )
    async with open_resources(settings) as resources, running_executor(resources):
        deck = {
            "id": "deck",
            "type": "microsoft-powerpoint",
            "config": {
                "template": "deck",
                "filename": "Proposal",
                "data": {"customer": "ACME"},
                "upload": {"connection": "m365", "folder": "Decks"},
            },
        }
        workspace_id, workflow_id = await seed(resources, deck)
        await add_template(resources, workspace_id, "deck", "deck.pptx", pptx_template())
        await add_microsoft(resources, workspace_id, graph)

        done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

        assert done.status == "completed", done.error
        _, data = await stored(
            resources, workspace_id, done.context["node_outputs"]["deck"]["document"]["id"]
        )
    [create] = graph.called("POST", r".*:/createUploadSession")
    assert create.path == f"{DRIVE}/root:/Decks/Proposal.pptx:/createUploadSession"
    assert create.headers["Authorization"] == f"Bearer {GRAPH_TOKEN}"
    assert create.json() == {
        "item": {"@microsoft.graph.conflictBehavior": "replace", "name": "Proposal.pptx"}
    }
    [chunk] = graph.called("PUT", r"/up/.*")
    assert "Authorization" not in chunk.headers
    assert chunk.headers["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    assert chunk.headers["Content-Length"] == str(len(data))
    assert graph.files["Decks/Proposal.pptx"] == data
    assert not graph.called("PUT", r".*:/content")


async def test_a_large_file_is_sent_in_ranges_that_are_multiples_of_320_KiB(
    graph: FakeGraph,
) -> None:
    data = os.urandom(2 * RANGE_UNIT + 1000)
    async with aiohttp.ClientSession() as http:
        drive = GraphDrive(http, graph.graph_base_url, GRAPH_TOKEN, drive_id="b!library")
        item = await drive.upload(
            "Reports/big.bin", data, "application/octet-stream",
            simple_max_bytes=RANGE_UNIT, chunk_bytes=RANGE_UNIT,
        )  # fmt: skip
    [create] = graph.called("POST", r".*:/createUploadSession")
    assert create.path == "/v1.0/drives/b!library/root:/Reports/big.bin:/createUploadSession"
    ranges = [c.headers["Content-Range"] for c in graph.called("PUT", r"/up/.*")]
    total = len(data)
    assert ranges == [
        f"bytes 0-{RANGE_UNIT - 1}/{total}",
        f"bytes {RANGE_UNIT}-{2 * RANGE_UNIT - 1}/{total}",
        f"bytes {2 * RANGE_UNIT}-{total - 1}/{total}",
    ]
    assert graph.files["Reports/big.bin"] == data
    assert (item["name"], item["size"]) == ("big.bin", total)


async def test_a_refused_upload_fails_the_node_with_graphs_reason_at_once(
    pg_resources: Resources, pg_executor: ExecutorWorker, graph: FakeGraph
) -> None:
    resources = pg_resources
    graph.upload_errors = [(403, "accessDenied")]
    workspace_id, workflow_id = await seed(resources, contract())
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    await add_microsoft(resources, workspace_id, graph)

    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})

    assert done.status == "failed"
    assert "Graph upload answered 403: The upload was refused. (accessDenied)" in (done.error or "")
    assert "attempt 1" in (done.error or "")


async def test_a_transient_graph_error_is_retried_and_the_retry_reuses_the_rendered_document(
    pg_resources: Resources, pg_executor: ExecutorWorker, graph: FakeGraph
) -> None:
    resources = pg_resources
    graph.upload_errors = [(503, "serviceNotAvailable")]
    workspace_id, workflow_id = await seed(resources, contract())
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    await add_microsoft(resources, workspace_id, graph)
    scheduler = Scheduler(resources)
    await scheduler.start()
    try:
        done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})
    finally:
        await scheduler.stop()

    assert done.status == "completed", done.error
    first, second = graph.called("PUT", r".*:/content")
    assert first.path == second.path
    # Rendering again would give other bytes (a .docx zip carries its write time).
    assert first.body == second.body
    async with resources.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 1
