"""What the deploy files promise about stopping and scraping, beyond the Compose schema."""

import json
import re
from pathlib import Path
from typing import Any

import yaml

from shared.metrics import Metrics
from shared.settings import Settings

REPO = Path(__file__).parents[2]


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_docker_waits_longer_than_an_executor_drains_before_it_kills_it() -> None:
    executor = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["executor"]
    grace = float(
        executor["environment"].get(
            "DOCFLOW_SHUTDOWN_GRACE_SECONDS",
            Settings.model_fields["shutdown_grace_seconds"].default,
        )
    )
    # Past the grace the executor still hands its runs back, which takes a moment.
    assert _seconds(executor["stop_grace_period"]) >= grace + 10


def test_every_metric_a_dashboard_queries_is_one_docflow_exports() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    Metrics(registry)
    exported = {
        sample_name
        for family in registry.collect()
        for sample_name in _sample_names(family.name, family.type)
    }
    dashboard: dict[str, Any] = json.loads(
        (REPO / "deploy" / "grafana" / "dashboards" / "docflow.json").read_text()
    )
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\b(docflow_[a-z_]+)", target["expr"])
    }
    assert queried and queried <= exported, queried - exported


def _sample_names(name: str, kind: str) -> list[str]:
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
    return [name]
