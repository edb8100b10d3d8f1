"""What the router matched, read the same way by auth, logging and metrics."""

from aiohttp import web

API_PREFIX = "/api/v1"
#: Path parameters bound to the log context when a route has them.
LOGGED_PATH_PARAMS = ("workflow_id", "execution_id")


def route_template(request: web.Request) -> str | None:
    """`/api/v1/workflows/{workflow_id}`, not the raw path; None when nothing matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def logged_path_params(request: web.Request) -> dict[str, str]:
    return {
        name: request.match_info[name] for name in LOGGED_PATH_PARAMS if name in request.match_info
    }
