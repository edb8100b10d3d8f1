"""The CRM v3 objects API: one object with its associations, then contacts and companies in
batches. Errors say whether another try may help (429, 5xx, timeouts) or not (401, 404)."""

import asyncio
from typing import Any

import aiohttp

from shared.egress import failure_reason, is_refusal
from shared.errors import DocflowError
from shared.nodes.core import HUBSPOT_OBJECT_TYPES

#: Read besides the object's own defaults, so templates can name people and firms.
CONTACT_PROPERTIES = ("email", "firstname", "lastname", "phone", "company", "jobtitle")
COMPANY_PROPERTIES = ("name", "domain", "phone", "city", "country", "industry")
#: HubSpot's batch read takes at most 100 ids.
BATCH_SIZE = 100
TIMEOUT_SECONDS = 30.0


class CrmError(DocflowError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class HubSpotCrm:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, access_token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}

    async def read(
        self, object_type: str, object_id: str, properties: list[str], associations: list[str]
    ) -> dict[str, Any]:
        """`GET /crm/v3/objects/{type}/{id}?associations=…`; the object with association ids."""
        params = {"associations": ",".join(associations)} if associations else {}
        if properties:
            params["properties"] = ",".join(properties)
        path = f"/crm/v3/objects/{HUBSPOT_OBJECT_TYPES[object_type]}/{object_id}"
        return await self._call("GET", path, params=params)

    async def batch_read(
        self, plural: str, ids: list[str], properties: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/read`, in batches, in the order of `ids`."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), BATCH_SIZE):
            body = {
                "properties": list(properties),
                "propertiesWithHistory": [],
                "inputs": [{"id": item} for item in ids[start : start + BATCH_SIZE]],
            }
            answer = await self._call("POST", f"/crm/v3/objects/{plural}/batch/read", json=body)
            for result in answer.get("results", []):
                found[str(result["id"])] = result
        return [found[item] for item in ids if item in found]

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self._base + path
        try:
            async with self._http.request(
                method,
                url,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                **kwargs,
            ) as response:
                if response.status >= 400:
                    detail = (await response.text())[:500]
                    retryable = response.status == 429 or response.status >= 500
                    raise CrmError(
                        f"HubSpot {method} {path} answered {response.status}: {detail}",
                        retryable=retryable,
                    )
                answer: dict[str, Any] = await response.json(content_type=None)
                return answer
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise CrmError(
                f"HubSpot {method} {path}: {failure_reason(e)}", retryable=not is_refusal(e)
            ) from e
        except asyncio.CancelledError:
            raise


def associated_ids(record: dict[str, Any], plural: str) -> list[str]:
    """Ids of one association type; labelled associations repeat an id, kept once."""
    results = record.get("associations", {}).get(plural, {}).get("results", [])
    return list(dict.fromkeys(str(item["id"]) for item in results))


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """`{"id", **properties}`, what templates read: `{{ source.deal.dealname }}`."""
    return {**record.get("properties", {}), "id": str(record["id"])}


async def read_source(
    crm: HubSpotCrm, object_type: str, object_id: str, properties: list[str]
) -> dict[str, Any]:
    """The object, its contacts and companies: flat for templates, and as HubSpot sent them."""
    plural = HUBSPOT_OBJECT_TYPES[object_type]
    associations = [name for name in ("contacts", "companies") if name != plural]
    record = await crm.read(object_type, object_id, properties, associations)
    contacts = companies = []
    if "contacts" in associations:
        contacts = await crm.batch_read(
            "contacts", associated_ids(record, "contacts"), CONTACT_PROPERTIES
        )
    if "companies" in associations:
        companies = await crm.batch_read(
            "companies", associated_ids(record, "companies"), COMPANY_PROPERTIES
        )
    source: dict[str, Any] = {
        "contacts": [flat(item) for item in contacts],
        "hubspot": {"object": record, "contacts": contacts, "companies": companies},
    }
    if "companies" in associations:
        source["companies"] = [flat(item) for item in companies]
        source["company"] = source["companies"][0] if companies else None
    # Last, so a company trigger's own object is `company`.
    source[object_type] = flat(record)
    return source
