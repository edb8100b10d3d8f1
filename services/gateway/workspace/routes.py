"""/api/v1/workspace: the workspace the API key belongs to."""

from services.gateway.common.operations import UNAUTHORIZED, Link, Operation, json
from services.gateway.workspace import api
from services.gateway.workspace.schemas import WorkspaceView


def operations() -> list[Operation]:
    return [
        Operation(
            "GET",
            api.PATH,
            api.show,
            operation_id="showWorkspace",
            summary="This API key's workspace: its id, name and the URLs to configure "
            "(HubSpot webhook target, each workflow's hook, each e-signature connection's "
            "webhook)",
            responses={200: json("The workspace", WorkspaceView, _links()), **UNAUTHORIZED},
        ),
    ]


def _links() -> dict[str, Link]:
    """The webhook targets it names, as the operations that receive them (the senders'
    signatures are not in any answer: a client follows these with its own)."""
    signature = "$response.body#/urls/signature_webhooks/0"
    return {
        "receiveHubSpotEvents": Link(
            "receiveHubSpotEvents", {"workspace_id": "$response.body#/id"}
        ),
        "receiveHook": Link(
            "receiveHook", {"workflow_id": "$response.body#/urls/workflow_hooks/0/workflow_id"}
        ),
        "receiveConnectionSignatureEvent": Link(
            "receiveConnectionSignatureEvent",
            {"provider": f"{signature}/provider", "connection_id": f"{signature}/connection_id"},
        ),
    }
