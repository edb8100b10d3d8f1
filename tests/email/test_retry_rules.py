"""When a deferred e-mail is tried again."""

import email.utils
import time

import pytest

from services.notifier.graph import retry_after_seconds
from services.notifier.retries import retry_delay
from tests.conftest import make_settings

SETTINGS = make_settings(email_retry_initial_seconds=2.0, email_retry_max_seconds=60.0)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 2.0),
        (2, None, 4.0),
        (3, None, 8.0),
        (10, None, 60.0),
        (1, 30.0, 30.0),
        (3, 1.0, 8.0),
        (10, 600.0, 600.0),
    ],
)
def test_the_back_off_doubles_up_to_its_cap_and_never_undercuts_retry_after(
    attempt: int, retry_after: float | None, expected: float
) -> None:
    assert retry_delay(SETTINGS, attempt, retry_after) == expected


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    seconds = retry_after_seconds(in_ten)
    assert seconds is not None and 8.0 <= seconds <= 10.0
