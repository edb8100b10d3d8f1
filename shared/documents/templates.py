"""Templates: named .docx/.pptx files of a workspace, versioned, kept with their SHA-256.

Uploading under a name that exists makes the next version of that template; nodes use the
newest version unless their config pins one, and every document records the version it used.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.tables import Template, TemplateVersion
from shared.db.types import utcnow
from shared.documents.hashing import sha256_hex
from shared.documents.kinds import CONTENT_TYPES, kind_of
from shared.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class TemplateVersionInfo:
    version: int
    filename: str
    content_type: str
    sha256: str
    size: int
    created_at: datetime


@dataclass(frozen=True)
class TemplateInfo:
    id: uuid.UUID
    name: str
    kind: str
    current_version: int
    created_at: datetime
    updated_at: datetime
    #: Newest first; listings carry only the current one.
    versions: tuple[TemplateVersionInfo, ...]


@dataclass(frozen=True)
class ResolvedTemplate:
    """The one version a node renders, and what its lineage records."""

    id: uuid.UUID
    name: str
    kind: str
    version: int
    sha256: str


async def add_template_version(
    session: AsyncSession, workspace_id: uuid.UUID, *, name: str, filename: str, data: bytes
) -> TemplateInfo:
    """Store `data` as the next version of template `name` (version 1 when the name is new)."""
    kind = kind_of(filename, data)
    template = await _template_for_update(session, workspace_id, name, kind)
    if template.kind != kind:
        message = f"template {name!r} is a .{template.kind} template; upload a .{template.kind}"
        raise InvalidInput([{"field": "file", "message": message}])
    now = utcnow()
    # The row lock taken by this UPDATE orders concurrent uploads of one name.
    version = await session.scalar(
        update(Template)
        .where(Template.id == template.id)
        .values(current_version=Template.current_version + 1, updated_at=now)
        .returning(Template.current_version)
    )
    assert version is not None
    session.add(
        TemplateVersion(
            template_id=template.id,
            version=version,
            filename=filename,
            content_type=CONTENT_TYPES[kind],
            sha256=sha256_hex(data),
            size=len(data),
            content=data,
            created_at=now,
        )
    )
    await session.flush()
    return await read_template(session, workspace_id, template.id)


async def _template_for_update(
    session: AsyncSession, workspace_id: uuid.UUID, name: str, kind: str
) -> Template:
    query = (
        select(Template)
        .where(Template.workspace_id == workspace_id, Template.name == name)
        .with_for_update()
    )
    found = await session.scalar(query)
    if found is not None:
        return found
    now = utcnow()
    row = Template(
        workspace_id=workspace_id, name=name, kind=kind, current_version=0,
        created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another upload created the name first; take its row.
        found = await session.scalar(query)
        assert found is not None
        return found
    return row


async def list_templates(session: AsyncSession, workspace_id: uuid.UUID) -> list[TemplateInfo]:
    rows = (
        await session.execute(
            select(Template, TemplateVersion)
            .join(
                TemplateVersion,
                (TemplateVersion.template_id == Template.id)
                & (TemplateVersion.version == Template.current_version),
            )
            .where(Template.workspace_id == workspace_id)
            .order_by(Template.name)
        )
    ).all()
    return [_info(template, [version]) for template, version in rows]


async def read_template(
    session: AsyncSession, workspace_id: uuid.UUID, template_id: uuid.UUID
) -> TemplateInfo:
    template = await session.scalar(
        select(Template)
        .where(Template.id == template_id, Template.workspace_id == workspace_id)
        # An upload in this session moved current_version with a Core UPDATE.
        .execution_options(populate_existing=True)
    )
    if template is None:
        raise NotFound("template", template_id)
    versions = await session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == template_id)
        .order_by(TemplateVersion.version.desc())
    )
    return _info(template, list(versions))


async def template_content(
    conn: AsyncSession | AsyncConnection,
    workspace_id: uuid.UUID,
    reference: str,
    version: int | None = None,
) -> tuple[ResolvedTemplate, bytes]:
    """The template a node names (by id or by name), at `version` or its newest, with bytes."""
    where = [Template.workspace_id == workspace_id]
    try:
        where.append(Template.id == uuid.UUID(reference))
    except ValueError:
        where.append(Template.name == reference)
    wanted = Template.current_version if version is None else version
    row = (
        await conn.execute(
            select(
                Template.id, Template.name, Template.kind, TemplateVersion.version,
                TemplateVersion.sha256, TemplateVersion.content,
            )
            .join(TemplateVersion, TemplateVersion.template_id == Template.id)
            .where(*where, TemplateVersion.version == wanted)
        )
    ).first()  # fmt: skip
    if row is None:
        what = reference if version is None else f"{reference} version {version}"
        raise NotFound("template", what)
    resolved = ResolvedTemplate(row.id, row.name, row.kind, row.version, row.sha256)
    return resolved, bytes(row.content)


def _info(template: Template, versions: list[TemplateVersion]) -> TemplateInfo:
    return TemplateInfo(
        id=template.id,
        name=template.name,
        kind=template.kind,
        current_version=template.current_version,
        created_at=template.created_at,
        updated_at=template.updated_at,
        versions=tuple(
            TemplateVersionInfo(
                v.version, v.filename, v.content_type, v.sha256, v.size, v.created_at
            )
            for v in versions
        ),
    )
