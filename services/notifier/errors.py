"""Why an e-mail did not go out. Whether to try again is a property of the error."""

from shared.errors import DocflowError


class DeliveryError(DocflowError):
    """An e-mail could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Worth another try (server busy, connection lost, our own SMTP set-up): the message is
    requeued and the queue's delivery limit bounds the tries."""

    retryable = True


class PermanentDeliveryError(DeliveryError):
    """The server refused this message for good (5xx on MAIL, RCPT or DATA), or it cannot be
    built: recorded as `failed` and acknowledged."""
