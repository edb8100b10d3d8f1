"""Real objects for the fuzzer to reach: runs executed to their waits (an `event` node after a
generated document, an approval gate, a signature request signed and one still pending), a
hook, a HubSpot app secret and a workspace signature account; and the real values no API
answer holds (an e-mailed approval token, a resume URL's token, provider signatures), written
into the test's copy of the OpenAPI document as explicit examples.

The stateful phase follows the document's links from the seeded runs; the examples phase
sends each explicit example once, first, while every seeded wait is still open.
"""

import copy
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services.gateway.approvals.pages import CSRF_COOKIE
from shared.db.tables import Document
from shared.esign.webhooks import CLICKSIGN_SIGNATURE_HEADER, clicksign_signature
from shared.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_v3
from shared.standard_webhooks import sign
from tests.approvals.support import RecordingTransport, approvers, gate_workflow, token_in
from tests.documents.builders import DEAL
from tests.events.support import event_workflow
from tests.gateway.conftest import Gateway
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.harness import first_signer, signature_workflow
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SECRET,
    CLICKSIGN_SIGNER_EMAIL,
    clicksign_event,
    clicksign_vector,
    raw,
)
from tests.support import eventually, wait_for_status
from tests.triggers.conftest import provider_json
from tests.triggers.support import CLIENT_SECRET, add_hubspot_connection

#: The secret of the seeded workspace ClickSign account (receiveConnectionSignatureEvent).
ACCOUNT_SECRET = "workspace-clicksign-webhook-secret"
EVENT = "po.confirmed"
#: A generated document before the `event` node: a run that waits has a document too.
CONTRACT = {
    "id": "contract",
    "type": "microsoft-word",
    "config": {"template": "Contract", "filename": "Contract", "data": {"customer": "Ada"}},
}
#: All must approve, each is used once, so the examples do not depend on their order (which
#: Schemathesis chooses): the first decides through the page, the second gets a new link
#: (resendGate), the third is replaced (reassignGate), the fourth is decided for (decideGate)
#: and the fifth's page is shown. The gate stays open throughout.
GATE_APPROVERS = approvers(5)
DEPUTY = "deputy@example.com"
#: What the templates of the seeded workflows read (the contract's company, the gate's name).
TRIGGER_DEAL = {**DEAL, "name": "ACME renewal"}
HOOK_WORKFLOW: dict[str, Any] = {
    "name": "hooked",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {"source": "webhook"}},
        {"id": "greet", "type": "set", "position": 1, "config": {"values": {"hi": "there"}}},
    ],
}


@dataclass(frozen=True)
class Seeded:
    #: Paused at its `event` node, with a document made before it (postWaitEvent).
    event_run: uuid.UUID
    #: Another run paused at its `event` node: its resume URL's path
    #: (…/resume/{execution_id}/{node_id}/{token}).
    resume_path: str
    document_id: uuid.UUID
    #: Paused at its gate of GATE_APPROVERS, who must all approve.
    gate_run: uuid.UUID
    #: Page tokens, as the notifier e-mailed them: the first approver's, who decides through
    #: the page, and the last one's, whose page is shown.
    approval_tokens: tuple[str, str]
    #: Signed, with its signed file.
    signed_request: uuid.UUID
    #: A request still pending at DocFlow, and the provider's key of it.
    pending_request: uuid.UUID
    pending_document_key: str
    #: The id the provider gave the pending request's signer, who has signed there.
    pending_signer: str
    hook_workflow: uuid.UUID
    hook_secret: str
    account_id: uuid.UUID


async def _api(gateway: Gateway, method: str, path: str, body: Any = None) -> Any:
    response = await gateway.client.request(method, path, json=body, headers=gateway.auth)
    assert response.status < 300, await response.text()
    return await response.json()


async def _run(gateway: Gateway, definition: dict[str, Any]) -> uuid.UUID:
    workflow = await gateway.create_workflow(definition)
    accepted = await gateway.start(workflow["id"], {"trigger_data": {"deal": TRIGGER_DEAL}})
    return uuid.UUID(accepted["execution_id"])


async def _paused(gateway: Gateway, execution_id: uuid.UUID) -> dict[str, Any]:
    row = await wait_for_status(gateway.resources, execution_id, "paused", "failed")
    assert row.status == "paused", row.error
    detail: dict[str, Any] = await _api(gateway, "GET", f"/api/v1/executions/{execution_id}")
    return detail


async def seed_runs(
    gateway: Gateway, transport: RecordingTransport, clicksign: FakeClickSign
) -> Seeded:
    """Needs an executor and a notifier (with `transport`) running, and the settings account
    of ClickSign pointing at `clicksign`."""
    resources = gateway.resources
    event_run = await _run(gateway, event_workflow(before=[CONTRACT]))
    resume_run = await _run(gateway, event_workflow())
    gate_run = await _run(gateway, gate_workflow(approvers=GATE_APPROVERS, strategy="all"))
    signed_run = await _run(gateway, signature_workflow("clicksign", [first_signer("clicksign")]))

    await _paused(gateway, event_run)
    [wait] = [w for w in (await _paused(gateway, resume_run))["waits"] if w["status"] == "open"]
    resume_path = "/api/v1/resume/" + wait["resume_url"].split("/api/v1/resume/", 1)[1]
    await _paused(gateway, gate_run)
    await eventually(lambda: _count(transport), lambda n: n >= len(GATE_APPROVERS))
    tokens = {str(email["To"]): token_in(email) for email in transport.sent}
    first, last = (tokens[a["email"]] for a in (GATE_APPROVERS[0], GATE_APPROVERS[-1]))

    # The first envelope gets the key the documented bodies name: sign it and post the
    # documented event, so the request is signed and its file fetched.
    signed = (await _paused(gateway, signed_run))["signature_requests"][0]
    clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    body = raw("clicksign_sign.json")
    response = await gateway.client.post(
        "/api/v1/webhooks/signature/clicksign",
        data=body,
        headers={"Content-Type": "application/json", **clicksign_vector("clicksign_sign.json")},
    )
    assert response.status == 200, await response.text()
    done = await wait_for_status(resources, signed_run, "completed", "failed")
    assert done.status == "completed", done.error
    # Started after the first, so its envelope gets a fresh document key.
    pending_run = await _run(gateway, signature_workflow("clicksign", [first_signer("clicksign")]))
    pending = (await _paused(gateway, pending_run))["signature_requests"][0]
    pending_signer = clicksign.sign(pending["provider_document_id"], CLICKSIGN_SIGNER_EMAIL)

    hook_workflow = await gateway.create_workflow(HOOK_WORKFLOW)
    secret = await _api(gateway, "POST", f"/api/v1/workflows/{hook_workflow['id']}/hook-secret")
    await add_hubspot_connection(gateway, name="hubspot-app")
    account = await _api(
        gateway,
        "POST",
        "/api/v1/connections",
        {
            "name": "own-clicksign",
            "kind": "clicksign",
            "config": {"token": "t", "webhook_secret": ACCOUNT_SECRET},
        },
    )
    async with resources.sessions() as session:
        document_id = await session.scalar(
            select(Document.id).where(Document.execution_id == event_run)
        )
    assert document_id is not None
    return Seeded(
        event_run=event_run,
        resume_path=resume_path,
        document_id=document_id,
        gate_run=gate_run,
        approval_tokens=(first, last),
        signed_request=uuid.UUID(signed["id"]),
        pending_request=uuid.UUID(pending["id"]),
        pending_document_key=pending["provider_document_id"],
        pending_signer=pending_signer,
        hook_workflow=uuid.UUID(hook_workflow["id"]),
        hook_secret=secret["secret"],
        account_id=uuid.UUID(account["id"]),
    )


async def _count(transport: RecordingTransport) -> int:
    return len(transport.sent)


def _body(value: Any) -> bytes:
    """The bytes Schemathesis sends for a JSON body (`requests`' `json=`), which is what a
    signature must be computed over."""
    return json.dumps(value).encode()


def with_examples(
    document: dict[str, Any], seeded: Seeded, *, workspace_id: uuid.UUID, public_url: str
) -> dict[str, Any]:
    """A copy of `document` whose operations that no link reaches with real values carry an
    explicit example of them: the examples phase sends each once. Signatures are computed
    over the exact bytes sent, at the moment the run starts (HubSpot's and Standard
    Webhooks' are refused after 5 minutes; the examples phase comes first)."""
    examples = copy.deepcopy(document)
    now = int(time.time())
    csrf = "fuzz-csrf-value-0123456789abcdef"
    _, _, resume_execution, resume_node, resume_token = seeded.resume_path.rsplit("/", 4)

    hook_body = {"customer": {"name": "Ada"}}
    hook_id = f"msg_{uuid.uuid4().hex}"
    hubspot_body = provider_json("hubspot_deal_batch.json")
    hubspot_path = f"/api/v1/webhooks/hubspot/{workspace_id}"
    hubspot_signature = signature_v3(
        CLIENT_SECRET,
        "POST",
        public_url.rstrip("/") + hubspot_path,
        _body(hubspot_body),
        f"{now}000",
    )
    signed_event = json.loads(
        clicksign_event(
            "sign",
            document_key=seeded.pending_document_key,
            signer_key=seeded.pending_signer,
            signer_email=CLICKSIGN_SIGNER_EMAIL,
        )
    )
    gate = {"execution_id": str(seeded.gate_run), "node_id": "gate"}
    others = [approver["email"] for approver in GATE_APPROVERS[1:4]]
    account_event = json.loads(clicksign_event("sign", document_key=str(uuid.uuid4())))

    values: dict[str, dict[str, Any]] = {
        "getDocument": {"document_id": str(seeded.document_id)},
        "getDocumentContent": {"document_id": str(seeded.document_id)},
        "getSignatureRequest": {"request_id": str(seeded.signed_request)},
        "getSignedDocument": {"request_id": str(seeded.signed_request)},
        "showApprovalPage": {"token": seeded.approval_tokens[1]},
        "decideApproval": {
            "token": seeded.approval_tokens[0],
            CSRF_COOKIE: csrf,
            "body": {"csrf": csrf, "decision": "approve"},
        },
        "extendGate": {**gate, "body": {"expires_in": "3d"}},
        "resendGate": {**gate, "body": {"approvers": [others[0]]}},
        "reassignGate": {
            **gate,
            "body": {"from": others[1], "to": {"email": DEPUTY, "name": "Deputy"}},
        },
        "decideGate": {**gate, "body": {"approver": others[2], "decision": "approve"}},
        "postWaitEvent": {
            "execution_id": str(seeded.event_run),
            "name": EVENT,
            "body": {"po": 42},
        },
        "postToResumeUrl": {
            "execution_id": resume_execution,
            "node_id": resume_node,
            "token": resume_token,
            "body": {"po": 43},
        },
        "receiveHook": {
            "workflow_id": str(seeded.hook_workflow),
            "webhook-id": hook_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign(seeded.hook_secret, hook_id, now, _body(hook_body)),
            "body": hook_body,
        },
        # Recorded (200); no workflow of the workspace is triggered by HubSpot, so none starts.
        "receiveHubSpotEvents": {
            "workspace_id": str(workspace_id),
            SIGNATURE_HEADER: hubspot_signature,
            TIMESTAMP_HEADER: f"{now}000",
            "body": hubspot_body,
        },
        # Accepted, and applied: the pending request is signed and its run goes on.
        "receiveSignatureEvent": {
            "provider": "clicksign",
            CLICKSIGN_SIGNATURE_HEADER: clicksign_signature(CLICKSIGN_SECRET, _body(signed_event)),
            "body": signed_event,
        },
        # Verified with the account's secret and read; about no request of that account, so
        # answered `unknown` (200), as the provider is answered for a stranger's document.
        "receiveConnectionSignatureEvent": {
            "provider": "clicksign",
            "connection_id": str(seeded.account_id),
            CLICKSIGN_SIGNATURE_HEADER: clicksign_signature(ACCOUNT_SECRET, _body(account_event)),
            "body": account_event,
        },
    }
    for described in examples["paths"].values():
        for operation in described.values():
            given = values.get(operation["operationId"])
            if given is None:
                continue
            for parameter in operation.get("parameters", []):
                if parameter["name"] in given:
                    parameter["example"] = given[parameter["name"]]
            if "body" in given:
                for content in operation["requestBody"]["content"].values():
                    content["example"] = given["body"]
    return examples


async def signed_by_its_example(gateway: Gateway, seeded: Seeded) -> None:
    """The correctly signed example of receiveSignatureEvent was accepted and applied, not
    merely answered: the pending request is signed."""

    async def status() -> str:
        view = await _api(gateway, "GET", f"/api/v1/signature-requests/{seeded.pending_request}")
        return str(view["status"])

    await eventually(status, lambda found: found == "signed")
