"""Per-workspace provider credentials, encrypted at rest, never returned by the API."""

from shared.connections.kinds import CONNECTION_KINDS, ConnectionConfig
from shared.connections.store import (
    ConnectionRecord,
    create_connection,
    delete_connection,
    list_connections,
    load_connection,
    read_connection,
    replace_connection,
)

__all__ = [
    "CONNECTION_KINDS",
    "ConnectionConfig",
    "ConnectionRecord",
    "create_connection",
    "delete_connection",
    "list_connections",
    "load_connection",
    "read_connection",
    "replace_connection",
]
