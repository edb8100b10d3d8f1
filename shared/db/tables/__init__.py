"""The tables, one module per area. Every query that reads them is scoped to a workspace.

Importing this package defines every table on `Base.metadata` (what Alembic compares with).
"""

from shared.db.tables.accounts import ApiKey, Workspace
from shared.db.tables.approvals import Approval, ApprovalToken
from shared.db.tables.base import NAMING, Base, BigId
from shared.db.tables.connections import Connection, WebhookSecret
from shared.db.tables.console import ConsoleSession
from shared.db.tables.documents import Document, Template, TemplateVersion
from shared.db.tables.email import EmailDelivery
from shared.db.tables.executions import (
    Execution,
    ExecutionOutput,
    ExecutionStep,
    ExecutionTransition,
    Wait,
    WaitEvent,
)
from shared.db.tables.messaging import InboxEvent, OutboxMessage
from shared.db.tables.signatures import SignatureRequest, SignedDocument, Signer
from shared.db.tables.workflows import Workflow, WorkflowVersion

__all__ = [
    "NAMING",
    "ApiKey",
    "Approval",
    "ApprovalToken",
    "Base",
    "BigId",
    "Connection",
    "ConsoleSession",
    "Document",
    "EmailDelivery",
    "Execution",
    "ExecutionOutput",
    "ExecutionStep",
    "ExecutionTransition",
    "InboxEvent",
    "OutboxMessage",
    "SignatureRequest",
    "SignedDocument",
    "Signer",
    "Template",
    "TemplateVersion",
    "Wait",
    "WaitEvent",
    "WebhookSecret",
    "Workflow",
    "WorkflowVersion",
    "Workspace",
]
