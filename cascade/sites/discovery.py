"""What `cascade site add --cloud NAME` learns of a cloud before registering it.

Given the cloud's settings from `clouds.yaml` (as
`openstack.config.OpenStackConfig().get_one(name).config` gives them), log in
with keystoneauth1, read the catalog for the cloud's region (compute, image,
and block storage and network when present) and probe compute for its
microversion range and, when the credentials allow, its capacity. The answer
holds facts only, no names the operator chooses, and no credentials: errors
and logs never carry them either.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping

from cascade.config import SitesSection
from cascade.errors import BadRequest, CascadeError
from cascade.identity.service_auth import ServiceAuth, catalog_url
from cascade.sites.client import SiteClient
from cascade.sites.health import DOWN, probe
from cascade.sites.model import Capacity, Site

LOG = logging.getLogger(__name__)

REQUIRED_SERVICES = ("compute", "image")
# key in `Site.endpoints` -> the catalog's names for the service, in order of preference
OPTIONAL_SERVICES = {"volumev3": ("volumev3", "block-storage", "volume"), "network": ("network",)}


class DiscoveryFailed(BadRequest):
    """The cloud could not be described: wrong credentials, unreachable, or
    missing a service the cascade needs."""


@dataclasses.dataclass(frozen=True)
class SiteDescription:
    region_name: str | None
    auth_url: str
    endpoints: Mapping[str, str]            # service type -> URL, as in `Site.endpoints`
    compute_min_version: str
    compute_max_version: str
    capacity: Capacity | None               # None when these credentials may not read hypervisors


async def discover(cloud_config: Mapping[str, Any], *, settings: SitesSection | None = None) -> SiteDescription:
    auth_settings = cloud_config.get("auth") or {}
    if not auth_settings.get("auth_url"):
        raise DiscoveryFailed("The cloud's settings have no auth_url.")
    region = cloud_config.get("region_name") or None
    interface = cloud_config.get("interface") or "public"
    try:
        auth = ServiceAuth.from_cloud(cloud_config)
        await auth.access()
    except CascadeError as exc:
        raise DiscoveryFailed(f"Could not log in to the cloud at {auth_settings['auth_url']}: {exc.message}") from None

    endpoints = await _endpoints(auth, region, interface)
    site = Site(id="discovery", name="discovery", availability_zone=region or "discovery",
                region_name=region or "", auth_url=auth.auth_url, endpoints=endpoints,
                compute_min_version="2.1", compute_max_version="2.1")
    client = SiteClient(site, settings or SitesSection(), service_auth=auth)
    try:
        result = await probe(client)
    finally:
        await client.close()
    if result.health == DOWN:
        raise DiscoveryFailed(f"The cloud's compute service did not answer: {result.error}")
    if result.error:
        LOG.info("discovery of the cloud at %s: %s", auth.auth_url, result.error)
    return SiteDescription(region_name=region, auth_url=auth.auth_url, endpoints=endpoints,
                           compute_min_version=result.compute_min_version or "2.1",
                           compute_max_version=result.compute_max_version or "2.1",
                           capacity=result.capacity)


async def _endpoints(auth: ServiceAuth, region: str | None, interface: str) -> dict[str, str]:
    access = await auth.access()
    found: dict[str, str] = {}

    for service_type in REQUIRED_SERVICES:
        url = catalog_url(access, service_type, region, interface)
        if url is None:
            raise DiscoveryFailed(f"The cloud's catalog has no {interface} {service_type} endpoint"
                                  f"{f' in region {region}' if region else ''}.")
        found[service_type] = url
    for key, names in OPTIONAL_SERVICES.items():
        url = next(filter(None, (catalog_url(access, name, region, interface) for name in names)), None)
        if url is not None:
            found[key] = url
    return found
