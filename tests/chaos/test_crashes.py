"""Reduced crash scenarios: executors, schedulers and the notifier SIGKILLed under load
(`python -m tests.chaos --full` runs the full ones)."""

from pathlib import Path

import pytest

from shared.settings import Settings
from tests.chaos.scenarios.executor_kill import executor_kill
from tests.chaos.scenarios.notifier_kill import notifier_kill
from tests.chaos.scenarios.scheduler_kill import scheduler_kill

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


async def test_executors_killed_under_load_finish_every_run_and_repeat_webhooks_with_one_key(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await executor_kill(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.extra["kills"] and report.verdict.completed == report.verdict.accepted


async def test_schedulers_killed_while_gates_expire_apply_each_expiry_once(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await scheduler_kill(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.extra["expiries applied"] == report.verdict.accepted > 0


async def test_a_notifier_killed_mid_send_still_delivers_every_email(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await notifier_kill(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.extra["kills"] and report.verdict.completed == report.verdict.accepted
