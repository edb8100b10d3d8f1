"""Why an e-mail did not go out. Whether to try again is a property of the error."""

from shared.errors import DocflowError


class DeliveryError(DocflowError):
    """An e-mail could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Worth another try (server busy, rate-limited, connection lost, our own set-up): the
    delivery is tried again after a back-off, up to DOCFLOW_EMAIL_MAX_ATTEMPTS tries."""

    retryable = True

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        #: The server's `Retry-After`, in seconds: the next try never comes sooner.
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The server refused this message for good (5xx on MAIL, RCPT or DATA, a 4xx from Graph),
    or it cannot be built: recorded as `failed` and acknowledged."""
