"""/api/v1/workspace: the workspace the API key belongs to."""

from services.gateway.common.operations import UNAUTHORIZED, Operation, json
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
            responses={200: json("The workspace", WorkspaceView), **UNAUTHORIZED},
        ),
    ]
