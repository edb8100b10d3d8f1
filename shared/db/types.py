"""Column types that behave the same on PostgreSQL and SQLite."""

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: JSONB on PostgreSQL, JSON text on SQLite.
JsonColumn = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on both backends.

    SQLite has no time zones, so values are stored as naive UTC there; comparisons in SQL then
    stay correct because every value is written the same way.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class StatusColumn(TypeDecorator[Any]):
    """A status as text in the database, a member of its StrEnum in Python.

    An unknown value is refused on the way in (ValueError), so no statement writes a status
    its enum does not list; raw PostgreSQL statements spell theirs in SQL and read plain
    strings, which compare equal to the members.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class _JsonText(TypeDecorator[Any]):
    """JSON as TEXT on SQLite: a column declared JSON there has NUMERIC affinity, so a value
    that is a bare number (`3.5e16`) would come back as an integer."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return json.dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


#: Any JSON value, numbers included: json (not jsonb, which reads 2.5e16 back as an integer)
#: on PostgreSQL, TEXT on SQLite.
JsonValue = JSON().with_variant(_JsonText(), "sqlite")
