"""Version documents and microversion negotiation, as Nova has them.

The cascade's compute range is [2.1, M] where M is the lowest of the
configured maximum and every enabled site's maximum: any request the cascade
accepts can then be carried out by every site it may touch. A site that falls
out of the range later (its record changed) is refused per call by its client
with a clear 406.
"""
from __future__ import annotations

from typing import Iterable

from aiohttp import web

from cascade import errors
from cascade.sites.model import DISABLED, Site
from cascade.sites.versions import APIVersion

MIN_COMPUTE = "2.1"
NOVA_HEADER = "X-OpenStack-Nova-API-Version"
GENERIC_HEADER = "OpenStack-API-Version"


def compute_range(configured_max: str, sites: Iterable[Site]) -> tuple[APIVersion, APIVersion]:
    low, high = APIVersion(MIN_COMPUTE), APIVersion(configured_max)
    for site in sites:
        if site.state == DISABLED:
            continue
        high = min(high, APIVersion(site.compute_max_version))
        low = max(low, APIVersion(site.compute_min_version))
    return low, max(high, low)


def requested_version(request: web.Request, service: str = "compute") -> str | None:
    generic = request.headers.get(GENERIC_HEADER)
    if generic:
        parts = generic.strip().split()
        if len(parts) == 2 and parts[0].lower() == service:
            return parts[1]
        if len(parts) == 1:
            return None
    if service == "compute":
        return request.headers.get(NOVA_HEADER)
    return None


def negotiate(request: web.Request, low: APIVersion, high: APIVersion) -> APIVersion:
    """The microversion this request is served at; NotAcceptable/BadRequest as Nova."""
    text = requested_version(request)
    if text is None:
        return low
    if text.strip().lower() == "latest":
        return high
    try:
        version = APIVersion(text)
    except ValueError:
        raise errors.BadRequest(f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum.")
    if not low <= version <= high:
        raise errors.NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {low} and maximum is {high}.")
    return version


def version_headers(version: APIVersion) -> dict[str, str]:
    return {
        NOVA_HEADER: str(version),
        GENERIC_HEADER: f"compute {version}",
        "Vary": f"{GENERIC_HEADER}, {NOVA_HEADER}",
    }


def compute_version_doc(base: str, version_id: str, low: APIVersion, high: APIVersion) -> dict:
    """One entry of Nova's versions list; `base` is the front's root URL."""
    if version_id == "v2.0":
        return {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "",
                "updated": "2025-07-04T12:00:00Z",
                "links": [{"rel": "self", "href": f"{base}/v2/"}]}
    return {"id": "v2.1", "status": "CURRENT", "version": str(high), "min_version": str(low),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/v2.1/"}]}


def media_types(version: str = "2.1") -> list[dict]:
    return [{"base": "application/json", "type": f"application/vnd.openstack.compute+json;version={version}"}]
