"""The shipped dashboard works against the shipped scrape config: a real Prometheus scrapes the
services this test runs, and every panel's query returns data after a few executions."""

import asyncio
import contextlib
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from shared.broker.topology import EMAIL
from shared.messages import SendEmail
from shared.settings import Settings
from tests.observability.stack import STUB_WEBHOOK, Stack, service_stack
from tests.observability.support import free_port, gates
from tests.observability.test_metrics import FAILING, completing
from tests.support import eventually

REPO = Path(__file__).parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DOCFLOW_JOBS = ("gateway", "executor", "notifier", "scheduler")


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel of every shipped dashboard."""
    queries = []
    for path in sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                queries.append(
                    (f"{path.name}: {panel['title']} [{target['refId']}]", target["expr"])
                )
    return queries


def scrape_config(ports: dict[str, int], prometheus_port: int) -> dict[str, Any]:
    """deploy/prometheus.yml with each DocFlow job pointed at this test's process, and a short
    interval; jobs for what the test does not run (RabbitMQ's plugin) are left out."""
    shipped = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    jobs = []
    for job in shipped["scrape_configs"]:
        name = job["job_name"]
        port = prometheus_port if name == "prometheus" else ports.get(name)
        if port is None:
            continue
        local = {k: v for k, v in job.items() if k not in ("static_configs", "dns_sd_configs")}
        local["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        jobs.append(local)
    assert {job["job_name"] for job in jobs} >= set(DOCFLOW_JOBS)
    return {
        "global": {
            **shipped.get("global", {}),
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
        },
        "scrape_configs": jobs,
    }


@pytest.fixture
def prometheus_binary() -> str:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        message = "the prometheus binary is not installed (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


def _write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.asynccontextmanager
async def prometheus(
    binary: str, config: dict[str, Any], tmp_path: Path, port: int
) -> AsyncIterator[str]:
    config_file = _write(tmp_path / "prometheus.yml", config)
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _status(f"{url}/-/ready"), lambda status: status == 200, within=30)
        yield url
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _status(url: str) -> int:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status
    except aiohttp.ClientError:
        return 0


async def _api(url: str, path: str, **params: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(f"{url}{path}", params=params) as r:
        body = await r.json()
        assert body["status"] == "success", body
        return body["data"]


async def _targets_up(url: str) -> set[str]:
    data = await _api(url, "/api/v1/targets")
    return {t["labels"]["job"] for t in data["activeTargets"] if t["health"] == "up"}


async def _drive(stack: Stack, target_url: str) -> None:
    """Runs that complete (with a timer wait and a webhook call), one that fails, an e-mail,
    and a webhook accepted and one rejected."""
    for definition in (completing(target_url), completing(target_url), FAILING):
        status, workflow = await stack.call("POST", "/workflows", json=definition)
        assert status == 201, workflow
        status, _ = await stack.call("POST", f"/workflows/{workflow['id']}/executions", json={})
        assert status == 202
    await stack.resources["executor"].broker.publish(
        EMAIL,
        SendEmail(
            idempotency_key=f"{uuid.uuid4()}:m", to=["ops@example.com"], subject="s", text="t"
        ),
    )
    webhook = STUB_WEBHOOK.format(workspace_id=stack.workspace_id).removeprefix("/api/v1")
    await stack.call("POST", webhook)
    await stack.call("POST", webhook, headers={"Authorization": "Bearer forged"})


@pytest.mark.slow
async def test_every_dashboard_panel_query_returns_data_from_a_real_prometheus(
    pg_settings: Settings, tmp_path: Path, prometheus_binary: str
) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 10
    async with gates() as target, service_stack(pg_settings, gauge_interval=0.5) as stack:
        port = free_port()
        config = scrape_config(stack.ports, port)
        async with prometheus(prometheus_binary, config, tmp_path, port) as url:
            await eventually(
                lambda: _targets_up(url), lambda up: up >= set(DOCFLOW_JOBS), within=30
            )
            # Driven after the first scrapes, so rates and increases see the counters move.
            await _drive(stack, target.url)

            async def empty() -> list[str]:
                missing = []
                for title, expr in queries:
                    if not (await _api(url, "/api/v1/query", query=expr))["result"]:
                        missing.append(f"{title}: {expr}")
                return missing

            still_empty = await eventually(
                empty, lambda missing: not missing, within=60, interval=1
            )
    assert still_empty == []
