"""Reading an HTTP answer's body up to a limit, without trusting `content.read(n)`."""

import aiohttp

CHUNK_BYTES = 64 * 1024


async def body_up_to(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or its first `limit` bytes once it is at least that long.

    `content.read(n)` is not that: it answers with whatever has arrived so far (at most n
    bytes), which for a body of more than a few TCP segments is only its beginning.
    """
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) >= limit:
            return bytes(body[:limit])
    return bytes(body)
