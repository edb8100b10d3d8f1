"""The console's own stylesheet and script, served from the package (no CDN, no build)."""

from functools import lru_cache
from importlib import resources

from aiohttp import web

#: Every file the route serves, with its media type; any other name is a 404.
FILES = {
    "console.css": "text/css",
    "console.js": "text/javascript",
}


@lru_cache(maxsize=len(FILES))
def _read(name: str) -> bytes:
    return (resources.files("services.gateway.console") / "static" / name).read_bytes()


async def serve(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound()
    return web.Response(
        body=_read(name),
        content_type=FILES[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
