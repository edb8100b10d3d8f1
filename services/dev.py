"""`docflow dev`: all four services in one process, and a first-start welcome."""

import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from services.lifecycle import serving, settle_garbage_collection, wait_for_stop
from services.workers import EXIT_LOOP_DIED, WORKERS, running
from shared.connections.crypto import new_secret_key
from shared.db.tables import Workflow, WorkflowVersion, Workspace
from shared.egress import LOOPBACK
from shared.logging import configure_logging
from shared.runtime import Resources, open_resources
from shared.settings import EMBEDDED_DATA_DIR, Settings

KEY_FILE = EMBEDDED_DATA_DIR / "api-key"

SAMPLE_WORKFLOW: dict[str, Any] = {
    "name": "sample: greet a deal",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {
            "id": "greeting",
            "type": "set",
            "position": 1,
            "config": {
                "values": {"text": "Hello {{ source.deal.name }}, {{ source.deal.amount }}!"}
            },
        },
        {"id": "pause", "type": "delay", "position": 2, "config": {"seconds": 2}},
        {
            "id": "done",
            "type": "set",
            "position": 3,
            "config": {"values": {"summary": "{{ nodes.greeting.text }} (after a pause)"}},
        },
    ],
}


SECRET_KEY_FILE = EMBEDDED_DATA_DIR / "secret-key"
EGRESS_NOTE = (
    f"Egress: workflows may reach loopback ({LOOPBACK}) in docflow dev only; "
    "elsewhere DOCFLOW_EGRESS_ALLOW opens private addresses."
)


def _with_secret_key(settings: Settings) -> Settings:
    """A newcomer's connections are encrypted too: with a key made on first start."""
    if settings.secret_key:
        return settings
    if not SECRET_KEY_FILE.exists():
        SECRET_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_KEY_FILE.write_text(new_secret_key() + "\n")
        os.chmod(SECRET_KEY_FILE, 0o600)
    return settings.model_copy(update={"secret_key": SECRET_KEY_FILE.read_text().strip()})


def with_loopback_egress(settings: Settings) -> Settings:
    """A newcomer's workflows may call services on this machine; production's may not."""
    allowed = ",".join(part for part in (settings.egress_allow, LOOPBACK) if part)
    return settings.model_copy(update={"egress_allow": allowed})


async def run_dev(settings: Settings) -> int:
    if "log_format" not in settings.model_fields_set:
        configure_logging(settings.log_level, "console")
    settings = with_loopback_egress(_with_secret_key(settings))
    from services.gateway.app import create_app

    async with open_resources(settings) as resources:
        welcome = await _first_start(resources)
        workers = [make(resources) for make in WORKERS.values()]
        async with (
            running(workers),
            serving(create_app(resources), settings.http_host, settings.http_port),
        ):
            print(welcome, flush=True)
            print(EGRESS_NOTE, flush=True)
            settle_garbage_collection()
            died = await wait_for_stop(resources)
    return 0 if died is None else EXIT_LOOP_DIED


async def _first_start(resources: Resources) -> str:
    from shared.api_keys import create_api_key

    base = resources.settings.public_url.rstrip("/")
    async with resources.sessions() as session:
        workspaces = await session.scalar(select(func.count()).select_from(Workspace))
    if workspaces:
        key = (
            KEY_FILE.read_text().strip()
            if KEY_FILE.exists()
            else "<the key printed at first start>"
        )
        return f"DocFlow is running at {base} (API key: {key})"
    workspace_id, key = await create_api_key(resources.sessions, "default")
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEY_FILE.write_text(key + "\n")
    os.chmod(KEY_FILE, 0o600)
    async with resources.sessions.begin() as session:
        workflow = Workflow(
            workspace_id=workspace_id, name=SAMPLE_WORKFLOW["name"], current_version=1
        )
        session.add(workflow)
        await session.flush()
        session.add(WorkflowVersion(workflow_id=workflow.id, version=1, definition=SAMPLE_WORKFLOW))
    data = '{"trigger_data": {"deal": {"name": "ACME", "amount": 1200}}}'
    return "\n".join(
        [
            "",
            "DocFlow is running (embedded: SQLite under ./.docflow, in-process broker).",
            "  workspace: default",
            f"  API key:   {key}   (also saved in {Path(KEY_FILE)})",
            "",
            "Start the sample workflow:",
            f"  curl -s -X POST {base}/api/v1/workflows/{workflow.id}/executions \\",
            f"       -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
            f"       -d '{data}'",
            "Then follow it:",
            f"  curl -s {base}/api/v1/executions/<execution_id> -H 'Authorization: Bearer {key}'",
            "",
        ]
    )
