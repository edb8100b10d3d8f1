"""Reduced fault-injection scenarios for RabbitMQ (`python -m tests.chaos` runs the full ones)."""

from pathlib import Path

import pytest

from shared.settings import Settings
from tests.chaos.scenarios.broker import broker_black_hole, broker_cut

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


async def test_after_the_broker_link_is_cut_under_load_every_accepted_run_completes_once(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await broker_cut(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.verdict.accepted >= 250 and report.verdict.recovered > 0


async def test_after_the_broker_link_is_black_holed_the_services_notice_and_recover(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await broker_black_hole(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.verdict.accepted >= 500 and report.verdict.recovered > 0
