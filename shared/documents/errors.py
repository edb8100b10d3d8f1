"""Errors of document generation."""

from shared.errors import DocflowError


class RenderError(DocflowError):
    """A template could not be filled: a syntax error, a missing value, a bad loop.

    Never retryable: the same template and context fail the same way every time.
    """
