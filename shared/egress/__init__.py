"""Outbound connections made for a workflow or a connection: the address policy and the HTTP
session (and SMTP socket) that apply it."""

from shared.egress.http import (
    MAX_REDIRECTS,
    TooManyRedirects,
    egress_session,
    failure_reason,
    is_refusal,
)
from shared.egress.policy import LOOPBACK, EgressPolicy, EgressRefused

__all__ = [
    "LOOPBACK",
    "MAX_REDIRECTS",
    "EgressPolicy",
    "EgressRefused",
    "TooManyRedirects",
    "egress_session",
    "failure_reason",
    "is_refusal",
]
