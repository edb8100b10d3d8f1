"""One error root for DocFlow. Whether an error may be retried is a property of the error."""

from typing import Any


class DocflowError(Exception):
    """Root of every DocFlow domain error."""

    retryable: bool = False


class NotFound(DocflowError):
    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"{kind} {identifier} not found")
        self.kind = kind
        self.identifier = identifier


class InvalidInput(DocflowError):
    """Input was refused; `errors` name each field path at fault (`nodes[2].config.url`)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        super().__init__(f"{first['field']}: {first['message']}")
        self.errors = errors


class InvalidDefinition(InvalidInput):
    """A workflow definition was refused."""


class TemplateError(DocflowError):
    """A template did not parse, or referred to a name the context does not have."""


class StaleVersion(DocflowError):
    """A compare-and-set on a row's `version` matched nothing: someone else moved it first."""


class IllegalTransition(DocflowError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an execution cannot move from {current} to {target}")
        self.current = current
        self.target = target


class UndecodableMessage(DocflowError):
    """A broker message that is not a known, valid message: dead-lettered, never retried."""


class BrokerUnavailable(DocflowError):
    retryable = True


class DatabaseUnavailable(DocflowError):
    """The database refused or dropped the connection, or a lock could not be had, even after
    a few tries: the server is overloaded or restarting, and the request may be made again."""

    retryable = True
