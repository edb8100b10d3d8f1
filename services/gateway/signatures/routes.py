"""E-signature: the providers' webhooks (public, verified) and the signature requests."""

from typing import Any

from services.gateway.common.operations import (
    NO_SCHEMA,
    UNAUTHORIZED,
    Answer,
    Body,
    Operation,
    header,
    json,
    path,
    problem,
)
from services.gateway.signatures import requests, webhooks
from services.gateway.signatures.schemas import Provider, SignatureEventAnswer, SignatureRequest
from shared.esign.webhooks import CLICKSIGN_SIGNATURE_HEADER


def operations() -> list[Operation]:
    return [*_webhooks(), *_requests()]


def _webhooks() -> list[Operation]:
    provider = path("provider", Provider)
    clicksign_signature = header(
        CLICKSIGN_SIGNATURE_HEADER,
        description="ClickSign: sha256=<hex HMAC-SHA256 of the raw body>",
    )
    answers = {
        200: json("Accepted, a duplicate, or about no known request", SignatureEventAnswer),
        400: problem("Malformed JSON"),
        401: problem("Missing or wrong signature (or secret header)"),
        404: problem("Unknown provider"),
        422: problem("Not an event of this provider"),
    }
    return [
        Operation(
            "POST",
            webhooks.PATH,
            webhooks.receive,
            operation_id="receiveSignatureEvent",
            summary="A ClickSign (Content-Hmac) or ZapSign (secret header) webhook; recorded "
            "once, applied by the executor",
            parameters=[provider, clicksign_signature],
            body=Body(dict[str, Any]),
            responses=answers,
        ),
        Operation(
            "POST",
            webhooks.CONNECTION_PATH,
            webhooks.receive_for_connection,
            operation_id="receiveConnectionSignatureEvent",
            summary="A webhook of a workspace's clicksign / zapsign connection: checked against "
            "that connection's secret, applied only to that connection's requests",
            parameters=[provider, path("connection_id"), clicksign_signature],
            body=Body(dict[str, Any]),
            responses={
                **answers,
                404: problem("Unknown provider, or no such connection"),
                503: problem("DOCFLOW_SECRET_KEY not set"),
            },
        ),
    ]


def _requests() -> list[Operation]:
    request_id = path("request_id")
    errors = {
        **UNAUTHORIZED,
        404: problem("No such request (or signed file yet) in this workspace"),
    }
    return [
        Operation(
            "GET",
            requests.PATH,
            requests.read,
            operation_id="getSignatureRequest",
            summary="A signature request with its signers and their statuses",
            parameters=[request_id],
            responses={200: json("The request", SignatureRequest), **errors},
        ),
        Operation(
            "GET",
            requests.DOCUMENT_PATH,
            requests.signed_document,
            operation_id="getSignedDocument",
            summary="The signed file; its SHA-256 is the ETag",
            parameters=[request_id],
            responses={
                200: Answer(
                    "The file as the provider signed it",
                    # The type the provider's file was stored with; a PDF as a rule.
                    {"application/pdf": NO_SCHEMA, "*/*": NO_SCHEMA},
                ),
                **errors,
            },
        ),
    ]
