"""signatures: e-signature requests, their signers and signed documents (issue: e-signature).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> "sa.Column[datetime]":
    return sa.Column(name, shared.db.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "signature_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("wait_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("provider_request_id", sa.String(length=200), nullable=True),
        sa.Column("provider_document_id", sa.String(length=200), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("provider_done", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _time("expires_at", nullable=True),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("completed_at", nullable=True),
        _time("last_activity_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_signature_requests_execution_id_executions"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signature_requests_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_requests")),
        sa.UniqueConstraint(
            "idempotency_key",
            "generation",
            name=op.f("uq_signature_requests_idempotency_key_generation"),
        ),
        sa.UniqueConstraint("wait_id", name=op.f("uq_signature_requests_wait_id")),
    )
    op.create_index(
        op.f("ix_signature_requests_execution_id"), "signature_requests", ["execution_id"]
    )
    op.create_index(
        "ix_signature_requests_provider_document",
        "signature_requests",
        ["provider", "provider_document_id"],
    )
    op.create_index(
        "ix_signature_requests_status_activity",
        "signature_requests",
        ["status", "last_activity_at"],
    )
    op.create_table(
        "signers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("phone_country", sa.String(length=4), nullable=True),
        sa.Column("auth", sa.String(length=16), nullable=False),
        sa.Column("signing_group", sa.Integer(), nullable=True),
        sa.Column("provider_signer_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("acted_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["signature_requests.id"],
            name=op.f("fk_signers_request_id_signature_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signers")),
        sa.UniqueConstraint("request_id", "position", name=op.f("uq_signers_request_id_position")),
    )
    op.create_index(op.f("ix_signers_request_id"), "signers", ["request_id"])
    op.create_table(
        "signed_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_signed_documents_execution_id_executions"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["signature_requests.id"],
            name=op.f("fk_signed_documents_request_id_signature_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_signed_documents_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_documents")),
        sa.UniqueConstraint("request_id", name=op.f("uq_signed_documents_request_id")),
    )
    op.create_index(op.f("ix_signed_documents_execution_id"), "signed_documents", ["execution_id"])


def downgrade() -> None:
    op.drop_table("signed_documents")
    op.drop_table("signers")
    op.drop_table("signature_requests")
