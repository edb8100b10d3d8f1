"""Reduced fault-injection scenario for PostgreSQL (`python -m tests.chaos` runs the full one)."""

from pathlib import Path

import pytest

from shared.settings import Settings
from tests.chaos.scenarios.postgres import postgres_black_hole, postgres_cut

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


async def test_through_a_database_cut_the_gateway_refuses_at_once_and_no_accepted_run_is_lost(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await postgres_cut(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.verdict.answers_503 > 0 and report.verdict.refused == 0


async def test_through_a_silent_database_the_gateway_still_answers_in_time_and_nothing_is_lost(
    settings_for_chaos: Settings, log_dir: Path
) -> None:
    report = await postgres_black_hole(settings_for_chaos, log_dir)

    assert report.holds, report.explain() + "\n" + report.logs
    assert report.verdict.answers_503 > 0 and report.verdict.refused == 0
