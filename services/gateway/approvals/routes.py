"""Approval gates: the approvers' public pages and the operators' API."""

from typing import Annotated

from aiohttp.typedefs import Handler
from pydantic import Field

from services.gateway.approvals import api, decision_api, pages
from services.gateway.approvals.api import (
    MAX_LIMIT,
    ExtendRequest,
    ReassignRequest,
    ResendRequest,
)
from services.gateway.approvals.decision_api import DecisionRecorded, DecisionRequest
from services.gateway.approvals.pages import CSRF_COOKIE
from services.gateway.approvals.schemas import (
    ApprovalDecisionForm,
    ApprovalGate,
    ApprovalList,
    ApproverStatus,
)
from services.gateway.common.operations import (
    BODY_ERRORS,
    UNAUTHORIZED,
    Answer,
    Body,
    Operation,
    cookie,
    html,
    json,
    path,
    problem,
    query,
)
from services.gateway.common.routing import API_PREFIX

#: Public: the token in the path is the credential. GET also answers HEAD.
PAGE = "/approve/{token}"
GATE = f"{API_PREFIX}/executions/{{execution_id}}/gates/{{node_id}}"


def operations() -> list[Operation]:
    return [*_pages(), *_api()]


def _pages() -> list[Operation]:
    token = path("token", str)
    refused = {
        404: html("Unknown link"),
        410: html("Used, replaced, expired or withdrawn link"),
        503: html("The database is unavailable; nothing was recorded, try after Retry-After"),
    }
    return [
        Operation(
            "GET",
            PAGE,
            pages.show,
            operation_id="showApprovalPage",
            summary="The approver's page; never decides (mail scanners fetch links)",
            parameters=[token],
            responses={200: html("The page with the Approve / Reject form"), **refused},
        ),
        Operation(
            "POST",
            PAGE,
            pages.decide,
            operation_id="decideApproval",
            summary="Record the approver's decision (needs the page's CSRF value)",
            parameters=[
                token,
                # Double-submit: the page sets it, and the form's `csrf` must match it.
                cookie(CSRF_COOKIE, description="The CSRF value the page set", required=True),
            ],
            body=Body(ApprovalDecisionForm, media_type="application/x-www-form-urlencoded"),
            responses={
                200: html("Recorded"),
                400: html("No decision chosen, or a form that cannot be read"),
                403: html("CSRF value missing or not matching"),
                409: html("Another request decided for this link first"),
                **refused,
            },
        ),
    ]


def _api() -> list[Operation]:
    return [
        Operation(
            "GET",
            f"{API_PREFIX}/approvals",
            api.list_approvals,
            operation_id="listApprovals",
            summary="Approvers by status; `pending` lists who open gates wait on",
            parameters=[
                query("status", ApproverStatus),
                query("limit", Annotated[int, Field(ge=1, le=MAX_LIMIT)]),
            ],
            responses={
                200: json("Approvers, oldest request first", ApprovalList),
                **UNAUTHORIZED,
                422: problem("Bad query parameter"),
            },
        ),
        _gate_operation(
            "extend", api.extend, "extendGate", "Move an open gate's deadline", ExtendRequest
        ),
        _gate_operation(
            "resend",
            api.resend,
            "resendGate",
            "E-mail pending approvers a new link; their old links stop working",
            # No body resends to every pending approver.
            ResendRequest,
            required=False,
        ),
        _gate_operation(
            "reassign",
            api.reassign,
            "reassignGate",
            "Replace one pending approver",
            ReassignRequest,
        ),
        Operation(
            "POST",
            f"{GATE}/decisions",
            decision_api.decide,
            operation_id="decideGate",
            summary="Record an approver's decision on their behalf, recorded as made by this "
            "API key; exactly once per approver, as through their e-mailed link",
            parameters=[path("execution_id"), path("node_id", str)],
            body=Body(DecisionRequest),
            responses={
                200: json("Recorded", DecisionRecorded),
                **UNAUTHORIZED,
                404: problem("No such execution or gate in this workspace"),
                409: problem("The approver already decided, or the gate is no longer open"),
                **BODY_ERRORS,
                422: problem("Invalid body, or no such approver; `field` names what is wrong"),
                503: problem("The database is unavailable; nothing was recorded"),
            },
        ),
    ]


def _gate_operation(
    action: str,
    handler: Handler,
    operation_id: str,
    summary: str,
    body: type,
    *,
    required: bool = True,
) -> Operation:
    answers: dict[int, Answer] = {
        200: json("The gate after the change (e-mails go out afterwards)", ApprovalGate),
        **UNAUTHORIZED,
        404: problem("No such execution or gate in this workspace"),
        409: problem("The gate is no longer open, or the approver does not fit"),
        **BODY_ERRORS,
    }
    return Operation(
        "POST",
        f"{GATE}/{action}",
        handler,
        operation_id=operation_id,
        summary=summary,
        parameters=[path("execution_id"), path("node_id", str)],
        body=Body(body, required=required),
        responses=answers,
    )
