"""Which duties have anything due, asked in one statement.

An idle scheduler used to send every duty's own query each interval: six transactions a second,
each waking the database and this process's SQLAlchemy to find nothing, and together the largest
share of an idle stack's CPU. Now one statement asks all of them, an EXISTS per duty built from
the very query the duty runs (so the two cannot drift apart, and each uses the duty's index),
and only the duties it names run. The timers keep their resolution of one interval.
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from services.scheduler.reconcile import quiet_requests
from services.scheduler.reminders import due_reminders
from services.scheduler.timers import due_waits
from shared.db.types import utcnow
from shared.esign.cancel import due_cancellations
from shared.outbox import stranded
from shared.runtime import Resources
from shared.settings import Settings
from shared.state_machine.lease import expired_leases

#: The rows a duty would take now.
Probe = Callable[[Settings, datetime], Select[Any]]

#: By duty name (worker.DUTIES). A duty without one (the self-paced gauges and stalled resumes,
#: which read nothing between their turns) runs on every pass.
PROBES: Mapping[str, Probe] = {
    "outbox_relay": lambda s, now: stranded(timedelta(seconds=s.outbox_relay_after_seconds), now),
    "lease_sweep": lambda _, now: expired_leases(now),
    "due_waits": lambda _, now: due_waits(now),
    "signature_reconcile": lambda s, now: quiet_requests(
        timedelta(seconds=s.signature_reconcile_after_seconds), now
    ),
    "signature_cancels": lambda _, now: due_cancellations(now),
    "approval_reminders": lambda _, now: due_reminders(now),
}


async def due_duties(resources: Resources, probes: Mapping[str, Probe] = PROBES) -> set[str]:
    """The names of the probed duties that have a row to take now."""
    if not probes:
        return set()
    now = utcnow()
    names = list(probes)
    statement = select(
        *(probes[name](resources.settings, now).exists().label(name) for name in names)
    )
    async with resources.engine.connect() as connection:
        row = (await connection.execute(statement)).one()
    return {name for name, due in zip(names, row, strict=True) if due}
