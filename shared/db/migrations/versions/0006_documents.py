"""documents: tables for connections, templates and documents (issue: documents, e-mail and CRM).

Reserved so that work on several capabilities can proceed at once with a linear history; the
capability that owns it fills it in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
