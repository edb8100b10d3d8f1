"""OneDrive / SharePoint files through Microsoft Graph: upload by path, convert to PDF.

Small files go up in one `PUT …/root:/{path}:/content`; larger ones through an upload session
(`createUploadSession`, then ranged PUTs to its `uploadUrl`). Both replace a file of the same
name, so uploading again after a crash leaves one file, not two.
"""

from typing import Any
from urllib.parse import quote

import aiohttp

from shared.providers_http.errors import ProviderError, raise_for_answer, unreachable
from shared.providers_http.paths import encoded_path

#: Graph requires every range but the last to be a multiple of 320 KiB.
RANGE_UNIT = 320 * 1024
DEFAULT_CHUNK_BYTES = 10 * RANGE_UNIT


class GraphDrive:
    """One drive: a user's OneDrive (`/users/{user}/drive`) or a library (`/drives/{id}`)."""

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, token: str, *,
        user: str | None = None, drive_id: str | None = None,
    ) -> None:  # fmt: skip
        if (user is None) == (drive_id is None):
            raise ValueError("give exactly one of user or drive_id")
        self._http = http
        self._token = token
        drive = (
            f"/drives/{quote(drive_id, safe='')}"
            if drive_id
            else f"/users/{quote(user or '', safe='@')}/drive"
        )
        self._drive_url = base_url.rstrip("/") + drive

    def item_path_url(self, path: str) -> str:
        """`…/root:/{path}:` for a path under the drive's root, each segment checked and
        escaped on its own (UnsafePath for `..`, `:` and the like)."""
        return f"{self._drive_url}/root:/{encoded_path(path, 'upload path')}:"

    async def upload(
        self, path: str, data: bytes, content_type: str, *,
        simple_max_bytes: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> dict[str, Any]:  # fmt: skip
        """Put `data` at `path` (folder/filename); the driveItem Graph answers."""
        if len(data) <= simple_max_bytes:
            return await self._put_content(path, data, content_type)
        return await self._upload_in_session(path, data, chunk_bytes)

    async def _put_content(self, path: str, data: bytes, content_type: str) -> dict[str, Any]:
        url = f"{self.item_path_url(path)}/content"
        headers = {**self._auth(), "Content-Type": content_type}
        return await self._json("PUT", url, "Graph upload", data=data, headers=headers)

    async def _upload_in_session(self, path: str, data: bytes, chunk_bytes: int) -> dict[str, Any]:
        if chunk_bytes % RANGE_UNIT:
            raise ValueError(f"chunk_bytes must be a multiple of {RANGE_UNIT}")
        body = {
            "item": {
                "@microsoft.graph.conflictBehavior": "replace",
                "name": path.rstrip("/").rsplit("/", 1)[-1],
            }
        }
        session = await self._json(
            "POST", f"{self.item_path_url(path)}/createUploadSession", "Graph createUploadSession",
            json=body, headers=self._auth(),
        )  # fmt: skip
        upload_url = session.get("uploadUrl")
        if not isinstance(upload_url, str):
            raise ProviderError("Graph createUploadSession gave no uploadUrl", retryable=True)
        total = len(data)
        item: dict[str, Any] = {}
        for start in range(0, total, chunk_bytes):
            chunk = data[start : start + chunk_bytes]
            end = start + len(chunk) - 1
            # The upload URL is pre-authenticated: Graph documents a 401 when a bearer token
            # is sent with these PUTs.
            headers = {
                "Content-Length": str(len(chunk)),
                "Content-Range": f"bytes {start}-{end}/{total}",
            }
            item = await self._json(
                "PUT", upload_url, "Graph upload session", data=chunk, headers=headers
            )
        if "id" not in item:
            raise ProviderError(
                "Graph finished the upload session without a driveItem", retryable=True
            )
        return item

    async def content_as(self, item_id: str, fmt: str = "pdf") -> bytes:
        """`GET …/items/{id}/content?format=pdf`: Graph converts the file and answers with a
        302 to a pre-authenticated download, which aiohttp follows."""
        url = f"{self._drive_url}/items/{quote(item_id, safe='')}/content"
        what = f"Graph conversion to {fmt}"
        try:
            async with self._http.get(
                url, params={"format": fmt}, headers=self._auth()
            ) as response:
                await raise_for_answer(response, what)
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise unreachable(what, e) from e

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _json(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http.request(method, url, **kwargs) as response:
                await raise_for_answer(response, what)
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise unreachable(what, e) from e
        return body if isinstance(body, dict) else {}
