"""The gateway says where it listens: the address it bound, not only the one it was given."""

import asyncio
import json
import signal
import sys

import aiohttp

from shared.settings import Settings
from tests.processes import service_env


async def test_the_gateway_logs_the_address_it_listens_on(pg_settings: Settings) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "gateway",
        # Port 0: the system picks one, which only the log can tell.
        env=service_env(
            pg_settings,
            DOCFLOW_HTTP_PORT="0",
            DOCFLOW_HTTP_HOST="127.0.0.1",
            DOCFLOW_LOG_FORMAT="json",
            DOCFLOW_LOG_LEVEL="INFO",
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:

        async def started() -> dict[str, object]:
            assert process.stderr is not None
            while True:
                line = await process.stderr.readline()
                assert line, "the gateway ended before it said it started"
                if line.startswith(b"{") and json.loads(line)["event"] == "service_started":
                    return dict(json.loads(line))

        logged = await asyncio.wait_for(started(), 30)
        listening = logged["listening"]
        assert isinstance(listening, list) and len(listening) == 1
        url = str(listening[0])
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0") and logged["public_url"] == pg_settings.public_url
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 30)
