"""Liveness, readiness and metrics: outside /api/v1, no API key."""

from services.gateway.common.operations import NO_SCHEMA, Answer, Operation, json
from services.gateway.health import api
from services.gateway.health.schemas import Health, Readiness

METRICS_PATH = "/metrics"


def operations() -> list[Operation]:
    return [
        Operation(
            "GET",
            "/healthz",
            api.healthz,
            operation_id="healthz",
            summary="The process is alive",
            responses={200: json("Alive", Health)},
        ),
        Operation(
            "GET",
            "/readyz",
            api.readyz,
            operation_id="readyz",
            summary="The database and the broker answer",
            responses={
                200: json("Ready", Readiness),
                503: json("A dependency failed; `checks` says which", Readiness),
            },
        ),
        Operation(
            "GET",
            METRICS_PATH,
            api.metrics,
            operation_id="metrics",
            summary="Prometheus metrics",
            responses={200: Answer("Text exposition", {"text/plain": NO_SCHEMA})},
        ),
    ]
