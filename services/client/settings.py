"""Where the client finds the gateway: `DOCFLOW_URL` and `DOCFLOW_API_KEY`.

A class of its own, not the services' Settings: the client runs on an operator's machine and
needs none of the server's configuration.
"""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCFLOW_", frozen=True, extra="ignore")

    #: Base URL of the gateway.
    url: str = "http://127.0.0.1:8080"
    #: An API key (`docflow api-key create`).
    api_key: str = ""
