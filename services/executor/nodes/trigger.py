from typing import Any, ClassVar

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeType
from shared.connections import load_connection
from shared.connections.crypto import Sealer
from shared.connections.kinds import HubSpotConnection
from shared.errors import DocflowError
from shared.hubspot.crm import CrmError, HubSpotCrm, read_source
from shared.nodes.base import RetryPolicy
from shared.nodes.core import TriggerConfig


class TriggerNode(NodeType):
    """First node: what started the run becomes `source_data`.

    `api`: the trigger data as is. `webhook`: the hook's JSON body. `hubspot`: the event's
    object with its contacts and companies, read from the CRM (a read, so re-running is safe).
    """

    type_name: ClassVar[str] = "trigger"
    config_model = TriggerConfig
    #: A CRM read that met a 429 or a 5xx is worth another try; the other sources never fail.
    default_retry: ClassVar[RetryPolicy] = RetryPolicy(max_attempts=3, initial_interval_seconds=2)

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, TriggerConfig)
        config = call.config
        metadata: dict[str, Any] = {}
        if config.source == "hubspot":
            try:
                source = await _hubspot_source(call, config)
            except CrmError as e:
                return Failed(str(e), retryable=e.retryable)
            except DocflowError as e:  # no such connection, or not a HubSpot one
                return Failed(str(e), retryable=False)
            metadata["hubspot_event"] = call.trigger_data["hubspot"]["event"]
        elif config.source == "webhook":
            source = call.trigger_data.get("payload", {})
            metadata["webhook"] = call.trigger_data.get("webhook", {})
            if not isinstance(source, dict):
                # A JSON array or scalar is kept under one name templates can reach.
                source = {"payload": source}
        else:
            source = call.trigger_data
        update: dict[str, Any] = {"source_data": source}
        if metadata:
            update["metadata"] = {**call.context.metadata, **metadata}
        context = call.context.model_copy(update=update)
        return Completed(output={"received": True, "source": config.source}, context=context)


async def _hubspot_source(call: NodeCall, config: TriggerConfig) -> dict[str, Any]:
    event = call.trigger_data.get("hubspot", {}).get("event")
    if not isinstance(event, dict) or "objectId" not in event:
        raise CrmError("the run was not started by a HubSpot event", retryable=False)
    engine = call.services.engine
    assert engine is not None and config.connection is not None and config.object_type
    async with engine.connect() as conn:
        connection = await load_connection(
            conn,
            Sealer(call.services.settings.secret_key),
            call.workspace_id,
            config.connection,
            HubSpotConnection,
        )
    crm = HubSpotCrm(call.services.http, connection.base_url, connection.access_token)
    source = await read_source(crm, config.object_type, str(event["objectId"]), config.properties)
    source["event"] = event
    return source
