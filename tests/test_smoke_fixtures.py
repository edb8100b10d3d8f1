from shared.settings import Settings


async def test_each_backend_gets_its_own_settings(settings: Settings) -> None:
    assert settings.database_url.startswith(("postgresql", "sqlite"))
