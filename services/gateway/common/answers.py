"""Shapes every resource answers with: the problem document and what it says about a field."""

from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457; `field` repeats the first of `errors`."""

    type: str
    title: str
    status: int
    detail: str
    # Absent, not null, when no field is at fault: SkipJsonSchema keeps null out of the document.
    field: str | SkipJsonSchema[None] = None
    errors: list[FieldError] | SkipJsonSchema[None] = None
