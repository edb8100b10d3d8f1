"""google-docs / google-slides: the fake Google APIs get exactly the documented requests."""

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.db.tables import Document
from shared.runtime import Resources
from tests.documents.fakes import GOOGLE_TOKEN, FakeGoogle, fixture, verified_claims
from tests.documents.support import add_google, run_to_end, seed, stored

COPY_ID = fixture("google_drive_copy_response.json")["id"]
SERVICE_ACCOUNT = "docflow@docflow-test.iam.gserviceaccount.com"
DOCS_NODE = {
    "id": "letter",
    "type": "google-docs",
    "config": {
        "connection": "gdrive",
        "template_file_id": "TEMPLATE_DOC_ID",
        "name": "{{ source.customer }} presentation",
        "replacements": [
            {"placeholder": "customer-name", "value": "{{ source.customer }}",
             "tab_ids": ["t.0", "t.1", "t.2"]},
            {"placeholder": "date", "value": "{{ source.date }}"},
        ],
    },
}  # fmt: skip
SLIDES_NODE = {
    "id": "deck",
    "type": "google-slides",
    "config": {
        "connection": "gdrive",
        "template_file_id": "TEMPLATE_DECK_ID",
        "name": "{{ source.customer }} presentation",
        "replacements": [
            {"placeholder": "customer-name", "value": "{{ source.customer }}"},
            {"placeholder": "case-description", "value": "{{ source.case }}"},
            {"placeholder": "total-portfolio", "value": "{{ source.portfolio }}"},
        ],
    },
}
TRIGGER = {
    "customer": "Alice",
    "date": "2026/11/25",
    "case": "Case description filled here",
    "portfolio": "$1,000,000",
}
KEY = tuple[dict[str, Any], rsa.RSAPublicKey]


async def _run(
    resources: Resources, google: FakeGoogle, key: KEY, node: dict[str, Any]
) -> tuple[Any, Any]:
    workspace_id, workflow_id = await seed(resources, node)
    await add_google(resources, workspace_id, google, key[0])
    return workspace_id, await run_to_end(resources, workspace_id, workflow_id, TRIGGER)


async def test_google_docs_sends_the_documented_token_copy_batch_update_and_export_requests(
    pg_resources: Resources, pg_executor: ExecutorWorker, google: FakeGoogle, google_key: KEY
) -> None:
    workspace_id, done = await _run(pg_resources, google, google_key, DOCS_NODE)

    assert done.status == "completed", done.error
    token, copy, update, export = google.calls
    assert (token.method, token.path) == ("POST", "/token")
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = token.form()
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = verified_claims(form["assertion"], google_key[1])
    # The connection's token_url wins over the key's token_uri.
    assert claims["aud"] == google.token_url != google_key[0]["token_uri"]
    assert claims["iss"] == SERVICE_ACCOUNT
    assert claims["scope"] == (
        "https://www.googleapis.com/auth/drive https://www.googleapis.com/auth/documents"
    )
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["_header"] == {"alg": "RS256", "typ": "JWT", "kid": "key-1"}

    assert (copy.method, copy.path) == ("POST", "/drive/v3/files/TEMPLATE_DOC_ID/copy")
    assert copy.query == {"supportsAllDrives": "true"}
    assert copy.headers["Authorization"] == f"Bearer {GOOGLE_TOKEN}"
    assert copy.headers["Content-Type"] == "application/json"
    assert copy.json() == fixture("google_drive_copy_request.json")

    assert (update.method, update.path) == ("POST", f"/v1/documents/{COPY_ID}:batchUpdate")
    assert update.headers["Authorization"] == f"Bearer {GOOGLE_TOKEN}"
    assert update.json() == fixture("google_docs_batchupdate_request.json")

    assert (export.method, export.path) == ("GET", f"/drive/v3/files/{COPY_ID}/export")
    assert export.query == {"mimeType": "application/pdf"}
    assert export.headers["Authorization"] == f"Bearer {GOOGLE_TOKEN}"

    output = done.context["node_outputs"]["letter"]
    meta, pdf = await stored(pg_resources, workspace_id, output["document"]["id"])
    assert pdf.startswith(b"%PDF") and COPY_ID.encode() in pdf
    link = f"https://docs.google.com/document/d/{COPY_ID}/edit"
    assert (meta.name, meta.content_type, meta.status) == (
        "Alice presentation.pdf", "application/pdf", "ready",
    )  # fmt: skip
    assert (meta.template_file_id, meta.provider_ids["google"]["file_id"]) == (
        "TEMPLATE_DOC_ID", COPY_ID,
    )  # fmt: skip
    assert output["url"] == meta.links["web"] == link
    assert done.context["generated_documents"] == [output["document"]]


async def test_google_slides_sends_the_documented_batch_update(
    pg_resources: Resources, pg_executor: ExecutorWorker, google: FakeGoogle, google_key: KEY
) -> None:
    workspace_id, done = await _run(pg_resources, google, google_key, SLIDES_NODE)

    assert done.status == "completed", done.error
    token, copy, update, export = google.calls
    scope = verified_claims(token.form()["assertion"], google_key[1])["scope"]
    assert scope == (
        "https://www.googleapis.com/auth/drive https://www.googleapis.com/auth/presentations"
    )
    assert copy.path == "/drive/v3/files/TEMPLATE_DECK_ID/copy"
    assert copy.json() == fixture("google_drive_copy_request.json")
    assert (update.method, update.path) == ("POST", f"/v1/presentations/{COPY_ID}:batchUpdate")
    assert update.json() == fixture("google_slides_batchupdate_request.json")
    assert export.path == f"/drive/v3/files/{COPY_ID}/export"
    output = done.context["node_outputs"]["deck"]
    assert output["url"] == f"https://docs.google.com/presentation/d/{COPY_ID}/edit"
    _, pdf = await stored(pg_resources, workspace_id, output["document"]["id"])
    assert pdf.startswith(b"%PDF")


async def test_an_export_over_drives_10_MB_limit_fails_at_once_with_a_clear_error(
    pg_resources: Resources, pg_executor: ExecutorWorker, google: FakeGoogle, google_key: KEY
) -> None:
    google.too_large = {COPY_ID}

    _, done = await _run(pg_resources, google, google_key, DOCS_NODE)

    assert done.status == "failed"
    error = done.error or ""
    assert "larger than Drive's 10 MB limit for files.export" in error
    assert "exportSizeLimitExceeded" in error and "attempt 1" in error


async def test_a_retry_after_a_failed_export_carries_on_with_the_same_copy(
    pg_resources: Resources, pg_executor: ExecutorWorker, google: FakeGoogle, google_key: KEY
) -> None:
    google.failing_exports = 1
    scheduler = Scheduler(pg_resources)
    await scheduler.start()
    try:
        _, done = await _run(pg_resources, google, google_key, DOCS_NODE)
    finally:
        await scheduler.stop()

    assert done.status == "completed", done.error
    assert google.copies == 1
    assert len(google.called("GET", r"/drive/v3/files/.*/export")) == 2
    async with pg_resources.sessions() as session:
        [document] = (await session.scalars(select(Document))).all()
    assert (document.status, document.provider_ids["google"]["file_id"]) == ("ready", COPY_ID)
