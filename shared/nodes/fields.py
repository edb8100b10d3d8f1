"""Rules shared by the node configs that ask people for something (approvers, signers): their
addresses, durations, deadlines and the `quorum` count."""

import re
from collections.abc import Sized

from shared.templating import is_template

#: Enough to refuse a typo at save time; the mail server or provider is the real judge.
EMAIL_PATTERN = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_DURATION = re.compile(r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
MAX_DURATION_SECONDS = 366 * 86_400


def duration_seconds(value: float | str) -> float:
    """`90`, `"90s"`, `"15m"`, `"48h"`, `"3d"`, `"2w"` → seconds. Raises ValueError."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as 90, '15m', '48h' or '3d'")
        seconds = float(match["amount"]) * _UNIT_SECONDS[match["unit"] or "s"]
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"must be more than 0 seconds and at most {MAX_DURATION_SECONDS}")
    return seconds


def is_email(value: str) -> bool:
    return EMAIL_PATTERN.match(value) is not None


def address_or_template(email: str) -> str:
    """A field validator's body: an address, or a template that will render to one."""
    if not is_template(email) and not is_email(email):
        raise ValueError(f"{email!r} is not an e-mail address")
    return email


def optional_duration(value: float | str | None) -> float | str | None:
    if value is not None:
        duration_seconds(value)
    return value


def check_deadline_and_count(
    *,
    expires_in: object,
    expires_at: object,
    rule_field: str,
    rule: str,
    required: int | None,
    people: Sized | str,
    noun: str,
) -> None:
    """One deadline at most; `required` exactly with the `quorum` rule, and no more than the
    `noun` listed (a template list is counted when it renders)."""
    if expires_in is not None and expires_at is not None:
        raise ValueError("give at most one of 'expires_in' or 'expires_at'")
    if rule == "quorum" and required is None:
        raise ValueError(f"{rule_field} 'quorum' needs 'required'")
    if rule != "quorum" and required is not None:
        raise ValueError(f"'required' is only for {rule_field} 'quorum'")
    if required is not None and not isinstance(people, str) and required > len(people):
        raise ValueError(f"'required' is {required} but only {len(people)} {noun} are listed")
