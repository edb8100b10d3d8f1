from tests.gateway.conftest import gateway as gateway
from tests.gateway.conftest import pg_gateway as pg_gateway
