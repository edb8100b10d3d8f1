"""HubSpot webhook events: the batch body, and which trigger an event starts."""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import InvalidInput
from shared.json_input import first_unkeepable
from shared.nodes.core import TriggerConfig

#: HubSpot sends at most 100 events per request; a bigger array is not HubSpot's.
MAX_EVENTS = 100


class HubSpotEvent(BaseModel):
    """The fields DocFlow reads; the rest of the event is kept as HubSpot sent it."""

    model_config = ConfigDict(frozen=True, extra="allow")

    eventId: int
    subscriptionId: int | None = None
    portalId: int
    occurredAt: int
    subscriptionType: str
    objectId: int
    propertyName: str | None = None
    propertyValue: str | None = None
    attemptNumber: int = 0

    def dedup_key(self) -> str:
        """HubSpot retries an event with the same eventId; its portal scopes the id."""
        return f"{self.portalId}:{self.eventId}"


def parse_batch(body: bytes) -> list[HubSpotEvent]:
    """The request's events, or InvalidInput naming the first one that is not an event."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise InvalidInput([{"field": "body", "message": f"not JSON: {e}"}]) from e
    unkeepable = first_unkeepable(raw)
    if unkeepable is not None:
        raise InvalidInput([{"field": unkeepable[0], "message": unkeepable[1]}])
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_EVENTS:
        message = f"must be an array of 1 to {MAX_EVENTS} events"
        raise InvalidInput([{"field": "body", "message": message}])
    events: list[HubSpotEvent] = []
    for index, item in enumerate(raw):
        try:
            events.append(HubSpotEvent.model_validate(item))
        except ValidationError as e:
            error = e.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            field = f"[{index}].{where}" if where else f"[{index}]"
            raise InvalidInput([{"field": field, "message": error["msg"]}]) from e
    # HubSpot does not promise order; runs start in the order things happened.
    return sorted(events, key=lambda event: event.occurredAt)


def matches(trigger: TriggerConfig, connection: str, event: HubSpotEvent) -> bool:
    if trigger.source != "hubspot" or trigger.connection != connection:
        return False
    if event.subscriptionType != trigger.event_type:
        return False
    wanted = trigger.property_filter
    return wanted is None or (
        event.propertyName == wanted.property and event.propertyValue == wanted.value
    )


def trigger_data(event: HubSpotEvent, connection: str) -> dict[str, Any]:
    """What the execution starts with; the trigger node reads the CRM from it."""
    return {"hubspot": {"connection": connection, "event": event.model_dump(mode="json")}}
