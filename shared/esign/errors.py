"""Errors of talking to a signature provider, translated at the HTTP edge."""

from shared.errors import DocflowError


class ProviderError(DocflowError):
    """A provider refused or could not answer; retryable for 5xx, 408, 429 and network errors."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class DocumentUnavailable(DocflowError):
    """The document to sign could not be read (bad reference, unreachable URL, too large)."""
