"""Datetimes in answers: ISO-8601, as stored (UTC)."""

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
