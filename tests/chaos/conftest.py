from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from shared.settings import Settings
from tests.chaos.stack import chaos_settings
from tests.conftest import AMQP_URL


@pytest.fixture
async def settings_for_chaos(pg_database: str, queue_prefix: str) -> Settings:
    return chaos_settings(
        pg_database, AMQP_URL, queue_prefix, secret_key=Fernet.generate_key().decode()
    )


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"
