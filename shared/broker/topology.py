"""Queue and exchange names, and what each work queue is declared with."""

from dataclasses import dataclass

RUN = "executions.run"
RESUME = "executions.resume"
SIGNATURES = "signatures.events"
EMAIL = "notifications.email"
WORK_QUEUES = (RUN, RESUME, SIGNATURES, EMAIL)
EVENTS_EXCHANGE = "execution.events"
DEAD_LETTER_EXCHANGE = "docflow.dead-letter"


@dataclass(frozen=True)
class Names:
    """Concrete names for one deployment; the prefix lets tests share one broker safely."""

    prefix: str = ""

    def queue(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def dead_letter_queue(self, logical: str) -> str:
        return f"{self.prefix}{logical}.dlq"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}{EVENTS_EXCHANGE}"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}{DEAD_LETTER_EXCHANGE}"
