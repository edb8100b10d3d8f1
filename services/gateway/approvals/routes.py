"""Approval gates in the gateway: the approvers' public pages and the operators' API.

`add_routes` is called from app.py; `openapi_paths` / `openapi_schemas` from openapi.py.
"""

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from services.gateway.approvals import api as approval_api
from services.gateway.approvals import pages as approval_pages
from services.gateway.common.auth import API_PREFIX
from services.gateway.common.openapi_schemas import INTEGER, STRING, TIME, UUID, Schema, ref
from services.gateway.common.problems import CONTENT_TYPE as PROBLEM_TYPE

GATE = f"{API_PREFIX}/executions/{{execution_id}}/gates/{{node_id}}"


def add_routes(router: web.UrlDispatcher) -> None:
    # Public: the token in the path is the credential. GET also answers HEAD.
    router.add_get("/approve/{token}", approval_pages.show)
    router.add_post("/approve/{token}", approval_pages.decide)
    router.add_get(f"{API_PREFIX}/approvals", approval_api.list_approvals)
    router.add_post(f"{GATE}/extend", approval_api.extend)
    router.add_post(f"{GATE}/resend", approval_api.resend)
    router.add_post(f"{GATE}/reassign", approval_api.reassign)


def _problem(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": ref("Problem")}}}


def _json(name: str, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref(name)}}}


def _html(description: str) -> Schema:
    return {"description": description, "content": {"text/html": {}}}


def _gate_operation(operation_id: str, summary: str, body: str | None, ok: str) -> Schema:
    parameters = [
        {"name": "execution_id", "in": "path", "required": True, "schema": UUID},
        {"name": "node_id", "in": "path", "required": True, "schema": STRING},
    ]
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": parameters,
        "responses": {
            ok: _json("ApprovalGate", "The gate after the change"),
            "401": _problem("Missing or invalid API key"),
            "404": _problem("No such execution or gate in this workspace"),
            "409": _problem("The gate is no longer open, or the approver does not fit"),
            "422": _problem("Invalid body; `field` names what is wrong"),
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": body != "ResendRequest",
            "content": {"application/json": {"schema": ref(body)}},
        }
    return operation


def openapi_paths() -> dict[str, dict[str, Schema]]:
    token = {"name": "token", "in": "path", "required": True, "schema": STRING}
    form = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": ref("ApprovalDecisionForm")}},
    }
    refused = {
        "404": _html("Unknown link"),
        "410": _html("Used, replaced, expired or withdrawn link"),
        "503": _html("The database is unavailable; nothing was recorded, try after Retry-After"),
    }
    return {
        "/approve/{token}": {
            "get": {
                "operationId": "showApprovalPage",
                "summary": "The approver's page; never decides (mail scanners fetch links)",
                "security": [],
                "parameters": [token],
                "responses": {"200": _html("The page with the Approve / Reject form"), **refused},
            },
            "post": {
                "operationId": "decideApproval",
                "summary": "Record the approver's decision (needs the page's CSRF value)",
                "security": [],
                "parameters": [token],
                "requestBody": form,
                "responses": {
                    "200": _html("Recorded"),
                    "400": _html("No decision chosen"),
                    "403": _html("CSRF value missing or not matching"),
                    "409": _html("Another request decided for this link first"),
                    **refused,
                },
            },
        },
        f"{API_PREFIX}/approvals": {
            "get": {
                "operationId": "listApprovals",
                "summary": "Approvers by status; `pending` lists who open gates wait on",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(approval_api.STATUSES)},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {
                    "200": _json("ApprovalList", "Approvers, oldest request first"),
                    "401": _problem("Missing or invalid API key"),
                    "422": _problem("Bad query parameter"),
                },
            }
        },
        f"{GATE}/extend": {
            "post": _gate_operation(
                "extendGate", "Move an open gate's deadline", "ExtendRequest", "200"
            )
        },
        f"{GATE}/resend": {
            "post": _gate_operation(
                "resendGate",
                "E-mail pending approvers a new link; their old links stop working",
                "ResendRequest",
                "202",
            )
        },
        f"{GATE}/reassign": {
            "post": _gate_operation(
                "reassignGate", "Replace one pending approver", "ReassignRequest", "202"
            )
        },
    }


def _schema(model: type[BaseModel]) -> Schema:
    schema: Schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


def openapi_schemas() -> dict[str, Any]:
    nullable_time = {"oneOf": [TIME, {"type": "null"}]}
    nullable_string = {"oneOf": [STRING, {"type": "null"}]}
    approver_properties: Schema = {
        "id": UUID,
        "email": STRING,
        "name": nullable_string,
        "status": {"type": "string", "enum": list(approval_api.STATUSES)},
        "late": {"type": "boolean"},
        "comment": nullable_string,
        "decided_at": nullable_time,
        "client_ip": nullable_string,
        "user_agent": nullable_string,
        "notified_at": nullable_time,
        "reminders_sent": INTEGER,
    }
    approver: Schema = {"type": "object", "properties": approver_properties}
    listed: Schema = {
        "type": "object",
        "properties": {
            **approver_properties,
            "execution_id": UUID,
            "workflow_id": UUID,
            "node_id": STRING,
            "wait_id": UUID,
            "gate_status": STRING,
            "since": TIME,
            "expires_at": nullable_time,
        },
    }
    return {
        "Approver": approver,
        "ApprovalList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": listed}},
        },
        "ApprovalGate": {
            "type": "object",
            "properties": {
                "execution_id": UUID,
                "node_id": STRING,
                "wait_id": UUID,
                "status": STRING,
                "strategy": {"type": "string", "enum": ["any", "all", "quorum"]},
                "required": INTEGER,
                "expires_at": nullable_time,
                "approvers": {"type": "array", "items": ref("Approver")},
            },
        },
        "ApprovalDecisionForm": {
            "type": "object",
            "properties": {
                "csrf": STRING,
                "decision": {"type": "string", "enum": ["approve", "reject"]},
                "comment": {"type": "string", "maxLength": 2000},
            },
            "required": ["csrf", "decision"],
        },
        "ExtendRequest": _schema(approval_api.ExtendRequest),
        "ResendRequest": _schema(approval_api.ResendRequest),
        "ReassignRequest": _schema(approval_api.ReassignRequest),
        "NewApprover": _schema(approval_api.NewApprover),
    }
