"""The gateway fixtures, for the console's tests."""

from tests.gateway.conftest import gateway, pg_gateway

__all__ = ["gateway", "pg_gateway"]
