"""The README's settings table lists exactly the fields of `Settings`, with their real defaults.

Adding a setting means adding a row: `| \\`DOCFLOW_NAME\\` | \\`default\\` | meaning |`.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic.fields import FieldInfo

from shared.settings import Settings

README = Path(__file__).parents[1] / "README.md"
ENV_PREFIX = "DOCFLOW_"
ROW = re.compile(
    r"^\|\s*`(?P<name>DOCFLOW_[A-Z0-9_]+)`\s*\|(?P<default>[^|]*)\|(?P<meaning>[^|]*)\|"
)


def _documented() -> dict[str, tuple[str, str]]:
    """Variable -> (default cell, meaning cell), from the table under `## Settings`."""
    text = README.read_text()
    match = re.search(r"^## Settings\n(?P<body>.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Settings' section"
    rows: dict[str, tuple[str, str]] = {}
    for line in match["body"].splitlines():
        row = ROW.match(line)
        if row:
            assert row["name"] not in rows, f"{row['name']} is documented twice"
            rows[row["name"]] = (row["default"].strip(), row["meaning"].strip())
    return rows


def _fields() -> dict[str, FieldInfo]:
    return {ENV_PREFIX + name.upper(): info for name, info in Settings.model_fields.items()}


def _as_documented(value: Any) -> str:
    """How the table spells a default: as it would be written in the environment."""
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value == "":
        return '`""`'
    return f"`{value}`"


def test_the_readme_has_a_settings_table() -> None:
    assert len(_documented()) >= 5


def test_every_settings_field_is_documented_in_the_readme() -> None:
    missing = sorted(_fields().keys() - _documented().keys())
    assert not missing, f"add these to the README's settings table: {missing}"


def test_every_documented_setting_is_a_settings_field() -> None:
    unknown = sorted(_documented().keys() - _fields().keys())
    assert not unknown, f"the README documents settings that do not exist: {unknown}"


@pytest.mark.parametrize("name", sorted(_fields()))
def test_documented_default_is_the_real_default(name: str) -> None:
    documented = _documented()
    if name not in documented:
        pytest.skip("missing from the table; reported by the completeness test")
    info = _fields()[name]
    default_cell, meaning = documented[name]
    assert meaning, f"{name} has no meaning in the README"
    if info.default_factory is not None:
        # Computed per process (e.g. host and pid): the README describes it in words.
        assert default_cell, f"{name} has no default described in the README"
        return
    expected = _as_documented(info.get_default())
    assert default_cell == expected, f"{name}: README says {default_cell}, Settings has {expected}"
