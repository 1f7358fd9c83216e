"""Top-owned resources a server depends on, and their copies in sites.

- flavors:  top records; a site gets its own copy (with its own id) when a
            server is placed there, or at once when an admin creates one;
            a site's existing flavor with the same name and shape is adopted.
- keypairs: top records per user; copied into a site with the user's token
            the first time one of the user's servers there needs it.
- images:   the sites' images, one top image per (owner, name, checksum);
            a site's image is adopted the first time the cascade sees it.

Every copy is a route (kind, top id, site) -> bottom id. Concurrent first
uses of one copy are serialised per (kind, top id, site) in this process; a
copy made meanwhile by another process is found by name and adopted."""
from __future__ import annotations

import asyncio
import collections
import logging
from typing import Iterable

from cascade import errors
from cascade.api import patterns
from cascade.context import RequestContext
from cascade.persistence.flavors import Flavor
from cascade.persistence.keypairs import Keypair
from cascade.runtime import Runtime
from cascade.sites.model import Site

LOG = logging.getLogger(__name__)

_locks: dict[tuple[str, str, str], asyncio.Lock] = collections.defaultdict(asyncio.Lock)


def _lock(kind: str, top_id: str, site_id: str) -> asyncio.Lock:
    return _locks[(kind, top_id, site_id)]


# ---- flavors ---------------------------------------------------------------

async def find_flavor(rt: Runtime, ctx: RequestContext, flavor_id: str, *, for_create: bool = False) -> Flavor:
    try:
        return await rt.flavors.get(flavor_id, visible_to=None if ctx.is_admin else ctx.project_id)
    except errors.NotFound:
        if for_create:
            raise errors.BadRequest(f"Flavor {flavor_id} could not be found.") from None
        raise


def flavor_shape(body: dict) -> tuple:
    return (int(body.get("vcpus", 0)), int(body.get("ram", 0)), int(body.get("disk", 0)),
            int(body.get("OS-FLV-EXT-DATA:ephemeral", body.get("ephemeral", 0)) or 0),
            int(body.get("swap") or 0))


def same_shape(flavor: Flavor, body: dict) -> bool:
    return flavor_shape(body) == (flavor.vcpus, flavor.ram, flavor.disk, flavor.ephemeral, flavor.swap)


def flavor_body(flavor: Flavor) -> dict:
    return {"name": flavor.name, "ram": flavor.ram, "vcpus": flavor.vcpus, "disk": flavor.disk,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral, "swap": flavor.swap,
            "rxtx_factor": flavor.rxtx_factor, "os-flavor-access:is_public": flavor.is_public}


async def flavor_in_site(rt: Runtime, flavor: Flavor, site: Site, *, project_id: str | None = None) -> str:
    """The site's id of `flavor`, creating the site's copy (with its extra
    specs and access list) if it has none. With `project_id` (a server of
    that project is being placed there), a private flavor's copy is made
    sure to grant that project access when the top flavor does."""
    known = await rt.routes.bottom_ids("flavor", site.id, [flavor.id])
    if flavor.id in known:
        bottom_id = known[flavor.id]
    else:
        bottom_id = await _copy_flavor(rt, flavor, site)
    if project_id is not None and not flavor.is_public and project_id in await rt.flavors.projects_of(flavor.id):
        await _grant_access(rt, site, bottom_id, [project_id])
    return bottom_id


async def _copy_flavor(rt: Runtime, flavor: Flavor, site: Site) -> str:
    async with _lock("flavor", flavor.id, site.id):
        known = await rt.routes.bottom_ids("flavor", site.id, [flavor.id])
        if flavor.id in known:
            return known[flavor.id]
        client = rt.registry.client(site.id)
        response = await client.service_request("compute", "POST", "/flavors", json={"flavor": flavor_body(flavor)})
        if response.status == 409:
            bottom_id = await _site_flavor_by_name(rt, site, flavor)
        else:
            client.raise_for_error(response)
            bottom_id = response.body["flavor"]["id"]
            if flavor.extra_specs:
                specs = await client.service_request("compute", "POST", f"/flavors/{bottom_id}/os-extra_specs",
                                                     json={"extra_specs": dict(flavor.extra_specs)})
                client.raise_for_error(specs)
            if not flavor.is_public:
                await _grant_access(rt, site, bottom_id, await rt.flavors.projects_of(flavor.id))
        await _bind(rt, "flavor", flavor.id, site, bottom_id)
        return bottom_id


async def _grant_access(rt: Runtime, site: Site, bottom_id: str, projects: Iterable[str]) -> None:
    """Give projects access to a site's copy of a private flavor; a grant
    the copy already has (409) is fine. A site without flavor access (404)
    is told nothing more: the server create there then says what it thinks."""
    client = rt.registry.client(site.id)
    for project_id in projects:
        response = await client.service_request("compute", "POST", f"/flavors/{bottom_id}/action",
                                                json={"addTenantAccess": {"tenant": project_id}})
        if response.status == 404:
            LOG.info("site %s: no access granted to %s on flavor %s (%s)", site.name, project_id, bottom_id,
                     response.text[:200] if response.text else 404)
            return
        if response.status != 409:
            client.raise_for_error(response)


async def _site_flavor_by_name(rt: Runtime, site: Site, flavor: Flavor) -> str:
    for body in await site_flavors(rt, site):
        if body["name"] == flavor.name:
            if not same_shape(flavor, body):
                raise errors.Conflict(f"Flavor {flavor.name} has another shape in availability zone "
                                      f"{site.availability_zone}.")
            return body["id"]
    raise errors.Conflict(f"Flavor {flavor.name} cannot be created in availability zone {site.availability_zone}.")


async def site_flavors(rt: Runtime, site: Site) -> list[dict]:
    client = rt.registry.client(site.id)
    response = await client.service_request("compute", "GET", "/flavors/detail", params={"is_public": "None"})
    client.raise_for_error(response)
    return response.body["flavors"]


async def adopt_site_flavors(rt: Runtime, site: Site) -> None:
    """On site add: bind the site's flavors to top flavors of the same name
    and shape, and make top flavors of the names the cascade does not know."""
    for body in await site_flavors(rt, site):
        try:
            flavor = await rt.flavors.get_by_name(body["name"])
        except errors.NotFound:
            flavor = await rt.flavors.add(
                name=body["name"], vcpus=body["vcpus"], ram=body["ram"], disk=body["disk"],
                ephemeral=body.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0, swap=int(body.get("swap") or 0),
                rxtx_factor=body.get("rxtx_factor", 1.0) or 1.0,
                is_public=body.get("os-flavor-access:is_public", True),
                description=body.get("description"), extra_specs=body.get("extra_specs") or {})
        if not same_shape(flavor, body):
            LOG.warning("site %s: flavor %s differs from the cascade's; not adopted", site.name, body["name"])
            continue
        known = await rt.routes.bottom_ids("flavor", site.id, [flavor.id])
        if flavor.id not in known:
            await _bind(rt, "flavor", flavor.id, site, body["id"])


# ---- keypairs --------------------------------------------------------------

async def site_zone(rt: Runtime, ctx: RequestContext, site: Site) -> str | None:
    """The site's own name of its one available zone (often `nova`), which
    is what a server placed by zone is given in the site, so that the site
    pins it as Nova pins a server created in a zone. None when the site has
    several zones or does not say: the site then schedules inside itself."""
    try:
        response = await patterns.forward(rt, ctx, site, "compute", "GET", "/os-availability-zone")
    except errors.CascadeError:
        return None
    zones = [z.get("zoneName") for z in (response.body or {}).get("availabilityZoneInfo", [])
             if (z.get("zoneState") or {}).get("available")]
    return zones[0] if len(zones) == 1 and isinstance(zones[0], str) else None


async def find_keypair(rt: Runtime, ctx: RequestContext, name: str) -> Keypair:
    try:
        return await rt.keypairs.get(ctx.user_id, name)
    except errors.NotFound:
        raise errors.BadRequest("Invalid key_name provided.") from None


def keypair_bottom_id(keypair: Keypair) -> str:
    # names are unique per user only: the bottom id carries the user
    return f"{keypair.user_id}/{keypair.name}"


async def keypair_in_site(rt: Runtime, ctx: RequestContext, keypair: Keypair, site: Site) -> None:
    known = await rt.routes.bottom_ids("keypair", site.id, [keypair.id])
    if keypair.id in known:
        return
    async with _lock("keypair", keypair.id, site.id):
        if keypair.id in await rt.routes.bottom_ids("keypair", site.id, [keypair.id]):
            return
        client = rt.registry.client(site.id)
        response = await _post_keypair(client, ctx, keypair)
        if response.status == 409:
            existing = await client.request("compute", "GET", f"/os-keypairs/{keypair.name}", token=ctx.token)
            client.raise_for_error(existing)
            if existing.body["keypair"]["public_key"].strip() != keypair.public_key.strip():
                await _replace_stale_keypair(rt, ctx, client, keypair, site)
        else:
            client.raise_for_error(response)
        await _bind(rt, "keypair", keypair.id, site, keypair_bottom_id(keypair), project_id=None)


async def _post_keypair(client, ctx: RequestContext, keypair: Keypair):
    body = {"keypair": {"name": keypair.name, "public_key": keypair.public_key}}
    microversion = None
    if keypair.type != "ssh":
        body["keypair"]["type"] = keypair.type
        microversion = "2.2"
    return await client.request("compute", "POST", "/os-keypairs", token=ctx.token, json=body,
                                microversion=microversion, request_id=ctx.request_id)


async def _replace_stale_keypair(rt: Runtime, ctx: RequestContext, client, keypair: Keypair, site: Site) -> None:
    """The site holds another key under this name: the copy of a deleted key
    pair of the same name (its route still there, its deletion not yet
    carried) is replaced; anything else is the site's own and refused."""
    stale = (await rt.routes.top_ids("keypair", site.id, [keypair_bottom_id(keypair)])).get(keypair_bottom_id(keypair))
    if stale is None or stale == keypair.id:
        raise errors.Conflict(f"Key pair '{keypair.name}' already exists with another key in "
                              f"availability zone {site.availability_zone}.")
    dropped = await client.request("compute", "DELETE", f"/os-keypairs/{keypair.name}", token=ctx.token)
    if dropped.status not in (202, 204, 404):
        client.raise_for_error(dropped)
    await rt.routes.forget("keypair", stale, site_id=site.id)
    client.raise_for_error(await _post_keypair(client, ctx, keypair))


# ---- images ----------------------------------------------------------------

def image_owner(body: dict) -> str | None:
    return None if body.get("visibility") in ("public", "community") else body.get("owner")


async def adopt_image(rt: Runtime, site: Site, body: dict) -> str:
    """The top id of a site's image, making the top image on first sight."""
    known = await rt.routes.top_ids("image", site.id, [body["id"]])
    if body["id"] in known:
        if body.get("checksum"):
            return await _complete_identity(rt, site, known[body["id"]], body)
        return known[body["id"]]
    image, _ = await rt.images.get_or_create(image_owner(body), body.get("name"), body.get("checksum"), body)
    async with _lock("image", image.id, site.id):
        if image.id not in await rt.routes.bottom_ids("image", site.id, [image.id]):
            await _bind(rt, "image", image.id, site, body["id"], project_id=image.owner)
    return image.id


async def _complete_identity(rt: Runtime, site: Site, top_id: str, body: dict) -> str:
    """A copy first seen before its data arrived (queued) made a top image
    without checksum. Now that the copy has one, the top image takes it; if
    another top image already has that identity (the same bytes adopted
    from another site meanwhile), the copy joins that one instead, and the
    incomplete one goes once no copy is left in it."""
    image = await rt.images.get(top_id)
    if image.checksum is not None:
        return top_id
    owner, name, checksum = image_owner(body), body.get("name"), body["checksum"]
    try:
        await rt.images.rekey(top_id, owner, name, checksum, body)
        return top_id
    except errors.Conflict:
        pass
    other = await rt.images.find(owner, name, checksum)
    await rt.routes.forget("image", top_id, site_id=site.id)
    async with _lock("image", other.id, site.id):
        if other.id not in await rt.routes.bottom_ids("image", site.id, [other.id]):
            await _bind(rt, "image", other.id, site, body["id"], project_id=other.owner)
    if not await rt.routes.routes_of("image", top_id):
        await rt.images.delete(top_id)
    return other.id


IMAGE_NOT_FOUND = "Can not find requested image"   # Nova's words on a create


async def image_copies(rt: Runtime, ctx: RequestContext, image_id: str, *,
                       missing: str = IMAGE_NOT_FOUND) -> dict[str, str]:
    """{site id: bottom id} of a top image the tenant may use; a 400 saying
    `missing` (the wording of the Nova call at hand) when none."""
    try:
        image = await rt.images.get(image_id)
    except errors.NotFound:
        raise errors.BadRequest(missing) from None
    if image.owner is not None and image.owner != ctx.project_id and not ctx.is_admin:
        raise errors.BadRequest(missing)
    copies = {route.site_id: route.bottom_id for route in await rt.routes.routes_of("image", image_id)
              if route.bottom_id and route.state == "bound"}
    if not copies:
        raise errors.BadRequest(missing)
    return copies


async def sync_site_images(rt: Runtime, site: Site, *, token: str | None = None,
                           params: dict | None = None) -> list[tuple[str, dict]]:
    """Every image of a site visible to `token` (the service account when
    None) and matching Glance filters `params`, adopted; returns (top id,
    site body) pairs."""
    client = rt.registry.client(site.id)
    found: list[tuple[str, dict]] = []
    filters = dict(params or {})
    params = {**filters, "limit": 200}
    while True:
        if token is None:
            response = await client.service_request("image", "GET", "/v2/images", params=params)
        else:
            response = await client.request("image", "GET", "/v2/images", token=token, params=params)
        client.raise_for_error(response)
        images = response.body.get("images", [])
        for body in images:
            found.append((await adopt_image(rt, site, body), body))
        if not response.body.get("next") or not images:
            return found
        params = {**filters, "limit": 200, "marker": images[-1]["id"]}


# ---- nested ids met in answers --------------------------------------------

async def resolve_unrouted(rt: Runtime, kind: str, site: Site, bottom_ids: Iterable[str]) -> dict[str, str]:
    """Top ids for bottom ids of top-owned kinds seen in a site's answer with
    no route yet (an image made in the site, a flavor made there by its
    operator): adopted when they match, else left out."""
    client = rt.registry.client(site.id)
    found: dict[str, str] = {}
    for bottom_id in bottom_ids:
        try:
            if kind == "image":
                response = await client.service_request("image", "GET", f"/v2/images/{bottom_id}")
                if response.status == 200:
                    found[bottom_id] = await adopt_image(rt, site, response.body)
            elif kind == "flavor":
                response = await client.service_request("compute", "GET", f"/flavors/{bottom_id}")
                if response.status == 200:
                    body = response.body["flavor"]
                    flavor = await rt.flavors.get_by_name(body["name"])
                    if same_shape(flavor, body):
                        await _bind(rt, "flavor", flavor.id, site, bottom_id)
                        found[bottom_id] = flavor.id
        except errors.CascadeError as exc:
            LOG.info("site %s: %s %s not adopted: %s", site.name, kind, bottom_id, exc)
    return found


async def _bind(rt: Runtime, kind: str, top_id: str, site: Site, bottom_id: str, *,
                project_id: str | None = None) -> None:
    try:
        await rt.routes.reserve(kind, site_id=site.id, project_id=project_id, top_id=top_id)
    except errors.Conflict:
        pass  # a route reserved by another worker: binding it is the same outcome
    await rt.routes.bind(kind, top_id, site.id, bottom_id)
