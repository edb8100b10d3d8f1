"""Attachments by document id: the bytes come from the execution's own documents, generated
or signed."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.errors import PermanentDeliveryError
from services.notifier.message import Attachment
from shared.db.tables import Document, SignedDocument
from shared.messages import SendEmail


async def load_attachments(session: AsyncSession, message: SendEmail) -> list[Attachment]:
    """Each attached document, which must belong to the e-mail's execution and workspace.

    A document that is not there (or not this execution's) can never be attached, so that is
    permanent: the e-mail fails with the reason instead of going out without it.
    """
    loaded: list[Attachment] = []
    for wanted in message.attachments:
        row = await _generated(session, message, wanted.document_id) or await _signed(
            session, message, wanted.document_id
        )
        if row is None:
            raise PermanentDeliveryError(
                f"document {wanted.document_id} is not a document of this execution"
            )
        if row.content is None:
            raise PermanentDeliveryError(f"document {wanted.document_id} has no content yet")
        loaded.append(Attachment(wanted.filename or row.name, row.content_type, row.content))
    return loaded


async def _generated(session: AsyncSession, message: SendEmail, document_id: uuid.UUID) -> Any:
    return (
        await session.execute(
            select(Document.name, Document.content_type, Document.content).where(
                Document.id == document_id,
                Document.workspace_id == message.workspace_id,
                Document.execution_id == message.execution_id,
            )
        )
    ).first()


async def _signed(session: AsyncSession, message: SendEmail, document_id: uuid.UUID) -> Any:
    """A file a `signature` node's provider returned signed (its entry's variant `signed`)."""
    return (
        await session.execute(
            select(
                SignedDocument.filename.label("name"),
                SignedDocument.content_type,
                SignedDocument.content,
            ).where(
                SignedDocument.id == document_id,
                SignedDocument.workspace_id == message.workspace_id,
                SignedDocument.execution_id == message.execution_id,
            )
        )
    ).first()
