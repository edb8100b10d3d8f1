"""What every node config shares: strictness and the retry policy."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetryPolicy(BaseModel):
    """Per-node retries. A back-off is a timer wait, never a sleeping worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=1, ge=1, le=100)
    initial_interval_seconds: float = Field(default=1.0, gt=0, le=86_400)
    max_interval_seconds: float = Field(default=300.0, gt=0, le=7 * 86_400)
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)

    @model_validator(mode="after")
    def _cap_not_below_start(self) -> "RetryPolicy":
        if self.max_interval_seconds < self.initial_interval_seconds:
            raise ValueError("max_interval_seconds must be at least initial_interval_seconds")
        return self


class NodeConfig(BaseModel):
    """Base of every node type's config. String values may be Jinja templates over the context."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: Fields that hold secrets: sealed when saved, never shown (shared/config_secrets.py).
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    #: Mappings (e.g. HTTP headers) whose entries are secrets when their name says so
    #: (`Authorization`, `X-Api-Key`, `Cookie`, anything with token, secret or password).
    secret_entries: ClassVar[frozenset[str]] = frozenset()

    #: None: the node type's default policy.
    retry: RetryPolicy | None = None
