"""`docflow dev` on a fresh directory: one command, nothing else installed, a run completes."""

import asyncio
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from services.dev import SAMPLE_WORKFLOW
from shared.nodes.registry import build_config_registry
from shared.workflows import validate_definition
from tests.support import eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(
        DOCFLOW_HTTP_PORT=str(port),
        DOCFLOW_PUBLIC_URL=f"http://127.0.0.1:{port}",
        DOCFLOW_SCHEDULER_INTERVAL_SECONDS="0.2",
    )
    return env


async def _read_banner(stdout: asyncio.StreamReader) -> str:
    lines: list[str] = []
    while True:
        line = (await stdout.readline()).decode()
        if not line:
            raise AssertionError(
                "docflow dev exited before printing its welcome:\n" + "".join(lines)
            )
        lines.append(line)
        if "Then follow it" in line:
            return "".join(lines)


def test_the_sample_workflow_is_valid() -> None:
    validate_definition(SAMPLE_WORKFLOW, build_config_registry())


async def test_docflow_dev_starts_on_an_empty_directory_and_runs_the_printed_sample(
    tmp_path: Path,
) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "dev",
        cwd=tmp_path, env=_env(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(_read_banner(process.stdout), 60)
        key_match = re.search(r"API key:\s+(\S+)", banner)
        url_match = re.search(r"(http://\S+/api/v1/workflows/\S+/executions)", banner)
        assert key_match and url_match, banner
        key, start_url = key_match[1], url_match[1]
        assert (tmp_path / ".docflow" / "docflow.db").exists()

        headers = {"Authorization": f"Bearer {key}"}
        body = {"trigger_data": {"deal": {"name": "ACME", "amount": 1200}}}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(start_url, json=body) as response:
                assert response.status == 202
                execution_id = (await response.json())["execution_id"]

            async def read() -> dict[str, Any]:
                url = f"http://127.0.0.1:{port}/api/v1/executions/{execution_id}"
                async with http.get(url) as response:
                    result: dict[str, Any] = await response.json()
                    return result

            done = await eventually(read, lambda e: e["status"] in ("completed", "failed"))
        assert done["status"] == "completed", done["error"]
        summary = done["context"]["node_outputs"]["done"]["summary"]
        assert summary == "Hello ACME, 1200! (after a pause)"

        # `api-key create` works beside the running dev server, printing only the key.
        created = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "api-key", "create", "--workspace", "acme",
            cwd=tmp_path, env=_env(port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(created.communicate(), 60)
        assert created.returncode == 0
        [new_key] = out.decode().split()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {new_key}"}) as http:
            url = f"http://127.0.0.1:{port}/api/v1/workflows"
            async with http.get(url) as response:
                assert response.status == 200
                assert (await response.json())["items"] == []  # a new workspace sees nothing
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
