"""The notifier SIGKILLed every few seconds, mid-send: every run's e-mail reaches the SMTP
server (aiosmtpd) and every run completes; e-mails the server got twice are counted."""

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from shared.db.tables import EmailDelivery
from shared.runtime import open_resources
from shared.settings import Settings
from tests.chaos.history import Outcome
from tests.chaos.report import Report
from tests.chaos.scenarios.kills import Kills, Services, kills_under_load, run_number
from tests.email.support import add_connection
from tests.notifier.support import Mailbox, free_port

FULL = Kills(runs=1000, per_second=20, every_seconds=5, settle_within=180)
REDUCED = Kills(runs=120, per_second=20, every_seconds=1.5, settle_within=60)
#: How long the server takes to accept each e-mail, so that kills land mid-send.
DATA_DELAY_SECONDS = 0.2


class SlowMailbox(Mailbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(DATA_DELAY_SECONDS)
        return await super().handle_DATA(server, session, envelope)


async def _delivery_of(settings: Settings, address: str) -> str:
    """What the notifier recorded of the e-mail to `address`."""
    async with (
        open_resources(settings, pool_size=1, start_broker=False) as resources,
        resources.sessions() as session,
    ):
        for row in await session.scalars(select(EmailDelivery)):
            if address in str(row.recipients):
                return f"{row.status} after {row.attempts} attempt(s): {row.last_error}"
    return "no delivery row"


def mail_workflow() -> dict[str, Any]:
    return {
        "name": "chaos-mail",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "mail",
                "type": "gmail",
                "position": 1,
                "config": {
                    "connection": "smtp",
                    "to": ["customer{{ source.n }}@example.com"],
                    "subject": "Run {{ source.n }}",
                    "text": "Your contract.",
                },
            },
        ],
    }


async def notifier_kill(settings: Settings, log_dir: Path, load: Kills = REDUCED) -> Report:
    mailbox, port = SlowMailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)

    async def add_smtp_connection(workspace_id: uuid.UUID) -> None:
        async with open_resources(settings, pool_size=1, start_broker=False) as resources:
            await add_connection(
                resources,
                workspace_id,
                "smtp",
                "smtp",
                {"host": "127.0.0.1", "port": port, "starttls": False, "from_address": "a@b.c"},
            )

    try:
        report, history = await kills_under_load(
            "notifier SIGKILLed mid-send",
            settings,
            log_dir,
            load,
            victims=["notifier-0"],
            workflow=mail_workflow(),
            trigger=lambda n: {"n": n},
            services=Services(executors=2, schedulers=1, notifiers=1),
            prepare=add_smtp_connection,
        )
    finally:
        await asyncio.to_thread(controller.stop)
    received = Counter(str(email["Subject"]) for _, email in mailbox.received)
    accepted = [run_number(op.key) for op in history.with_outcome(Outcome.OK)]
    missing = [n for n in accepted if received[f"Run {n}"] == 0]
    if missing:
        report.problems.append(
            f"{len(missing)} e-mail(s) never delivered, e.g. run {missing[0]}: "
            + await _delivery_of(settings, f"customer{missing[0]}@example.com")
        )
    report.extra["e-mails received"] = sum(received.values())
    report.extra["received twice or more"] = sum(1 for count in received.values() if count > 1)
    return report
