"""Hooks that start workflows: Standard Webhooks per workflow (with its secret) and HubSpot
events per workspace. Both are public and verified by the sender's signature."""

from typing import Any

from services.gateway.common.operations import (
    UNAUTHORIZED,
    Answer,
    Body,
    Operation,
    header,
    json,
    links_to,
    path,
    problem,
)
from services.gateway.hooks import api, hubspot
from services.gateway.hooks.schemas import HookRun, HookSecret, HubSpotEventsAnswer
from shared.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER

NOT_CONFIGURED = {503: problem("DOCFLOW_SECRET_KEY not set")}


def operations() -> list[Operation]:
    return [*_hubspot(), *_hooks()]


def _hubspot() -> list[Operation]:
    return [
        Operation(
            "POST",
            hubspot.PATH,
            hubspot.receive,
            operation_id="receiveHubSpotEvents",
            summary="HubSpot webhook events (X-HubSpot-Signature-v3); each new event "
            "starts the workflows whose trigger it matches",
            parameters=[
                path("workspace_id"),
                header(SIGNATURE_HEADER, required=True),
                header(TIMESTAMP_HEADER, str, "Milliseconds; at most 5 minutes old", required=True),
            ],
            body=Body(list[dict[str, Any]]),
            responses={
                200: json("Recorded; duplicates start nothing", HubSpotEventsAnswer),
                401: problem("Missing, stale or forged signature"),
                404: problem("No such workspace path"),
                422: problem("Not an array of HubSpot events"),
                **NOT_CONFIGURED,
            },
        ),
    ]


def _hooks() -> list[Operation]:
    workflow_id = path("workflow_id")
    errors = {**UNAUTHORIZED, 404: problem("No such workflow")}
    return [
        Operation(
            "POST",
            api.HOOK,
            api.receive,
            operation_id="receiveHook",
            summary="Start the workflow with this JSON body (Standard Webhooks signed)",
            parameters=[
                workflow_id,
                header(
                    "webhook-id", str, "Unique per message; repeats start nothing", required=True
                ),
                header("webhook-timestamp", str, "Seconds; within 5 minutes of now", required=True),
                header(
                    "webhook-signature",
                    str,
                    "`v1,<base64 HMAC-SHA256>`, space-separated",
                    required=True,
                ),
            ],
            body=Body(Any),
            responses={
                202: json(
                    "Queued",
                    HookRun,
                    links_to(["getExecution"], "execution_id", "$response.body#/execution_id"),
                ),
                200: json("A repeated webhook-id: the first run", HookRun),
                400: problem("Not JSON"),
                401: problem("Missing, stale or forged signature"),
                404: problem("The workflow has no hook"),
                409: problem("The workflow's trigger source is not 'webhook'"),
                **NOT_CONFIGURED,
            },
        ),
        Operation(
            "POST",
            api.SECRET,
            api.create_secret,
            operation_id="createHookSecret",
            summary="Create or rotate the hook secret (`whsec_…`, shown once); "
            "the previous one stays valid for 24 hours",
            parameters=[workflow_id],
            responses={201: json("The new secret", HookSecret), **errors, **NOT_CONFIGURED},
        ),
        Operation(
            "GET",
            api.SECRET,
            api.read_secret,
            operation_id="getHookSecret",
            summary="The hook's URL and dates, no value",
            parameters=[workflow_id],
            responses={200: json("The hook", HookSecret), **errors},
        ),
        Operation(
            "DELETE",
            api.SECRET,
            api.delete_secret,
            operation_id="deleteHookSecret",
            summary="Close the hook",
            parameters=[workflow_id],
            responses={204: Answer("Deleted"), **errors},
        ),
    ]
