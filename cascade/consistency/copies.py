"""Sites' copies of top-owned resources, brought to the top's state.

One mechanism for every change a site must follow: `carry(rt, kind, top_id,
sites)` brings each site's copy to what the top record says now, fanned out
over the sites, each under a journal entry keyed `<kind>:<top id>:<site id>`.
A site that cannot be reached (or a process that dies meanwhile) leaves the
entry to the worker, which runs the same convergence again with backoff
until the site takes it. The convergence reads the top record afresh each
time, so it carries every change made meanwhile, and it runs again when the
top changed while it ran (a change whose own entry found this one live
relies on that).

    flavor.push        the copy (made as at a server's first use,
                       `dependencies.flavor_in_site`) gets the top's extra
                       specs, description and access list; a deleted top
                       flavor's copy is deleted
    keypair.push       {user_id, name}: a deleted key pair's copy is deleted
                       (as the service account, for the user, from 2.10);
                       copies are made at first use with the user's token
    server_group.push  a deleted group's bottom groups are deleted, the
                       routed one and any named after it (a copy made by a
                       first member whose create was cut before the bind)
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Iterable

from cascade import errors
from cascade.api.compute import dependencies
from cascade.consistency import retry_unless_refused
from cascade.fanout.scatter import scatter
from cascade.jobs.registry import Permanent, Retry, handler
from cascade.persistence.flavors import Flavor
from cascade.persistence.jobs import Job
from cascade.runtime import Runtime
from cascade.sites.model import Site
from cascade.sites.versions import APIVersion

LOG = logging.getLogger(__name__)

FLAVOR = "flavor.push"
KEYPAIR = "keypair.push"
SERVER_GROUP = "server_group.push"

PUSH_ATTEMPTS = 100          # with the backoff capped at [jobs] backoff_max: hours of a site being down
STABLE_TRIES = 3             # convergences in a row while the top keeps changing, before a retry later

GROUP_ROUTE_KIND = "server_group"
GROUP_NAME_PREFIX = "cascade-"   # a bottom group is named after its top group: the prefix and the top id

Converge = Callable[[Runtime, Site, dict], Awaitable[dict]]


def bottom_group_name(group_id: str) -> str:
    return f"{GROUP_NAME_PREFIX}{group_id}"


async def carry(rt: Runtime, kind: str, top_id: str, site_ids: Iterable[str], **extra: Any) -> None:
    """Bring each site's copy of a top resource to the top's state now; a
    site that cannot take it now is left to its job (never raises for a site)."""
    sites = [rt.registry.get(site_id) for site_id in dict.fromkeys(site_ids) if _known(rt, site_id)]

    async def one(site: Site) -> None:
        await _carry_to(rt, kind, site, {"top_id": top_id, "site_id": site.id, **extra})

    for result in await scatter(sites, one, deadline=rt.settings.sites.list_deadline):
        if not result.ok:
            LOG.info("%s %s: site %s not brought up to date now (%s); its job retries", kind, top_id,
                     result.site.name, result.error or "timed out")


async def _carry_to(rt: Runtime, kind: str, site: Site, payload: dict) -> None:
    converge = _CONVERGE[kind]
    key = f"{kind}:{payload['top_id']}:{site.id}"
    if await rt.jobs.live_keys([key]):
        # that job reads the top afresh when it runs (or again, if it is
        # running now): this change goes out now and it is the net
        await converge(rt, site, payload)
        return
    async with rt.journal.entry(kind, payload, key=key, max_attempts=PUSH_ATTEMPTS):
        await converge(rt, site, payload)


def _known(rt: Runtime, site_id: str) -> bool:
    try:
        rt.registry.get(site_id)
        return True
    except errors.NotFound:
        return False


async def _until_stable(read: Callable[[], Awaitable[Any]], apply: Callable[[Any], Awaitable[dict]]) -> dict:
    """Apply the top's state until it did not change while it was applied."""
    for _ in range(STABLE_TRIES):
        state = await read()
        outcome = await apply(state)
        if await read() == state:
            return outcome
    raise Retry("the top record kept changing while it was carried")


def _ok(client, response, *also: int) -> None:
    if response.status not in also:
        client.raise_for_error(response)


# ---- flavors ---------------------------------------------------------------

async def _flavor_state(rt: Runtime, flavor_id: str) -> tuple[Flavor | None, tuple[str, ...]]:
    try:
        flavor = await rt.flavors.get(flavor_id, include_deleted=True)
    except errors.NotFound:
        return None, ()
    if flavor.deleted:
        return None, ()
    access = () if flavor.is_public else tuple(sorted(await rt.flavors.projects_of(flavor_id)))
    return flavor, access


async def converge_flavor(rt: Runtime, site: Site, payload: dict) -> dict:
    flavor_id = payload["top_id"]

    async def apply(state: tuple[Flavor | None, tuple[str, ...]]) -> dict:
        flavor, access = state
        if flavor is None:
            return await _drop_flavor_copy(rt, site, flavor_id)
        return await _match_flavor_copy(rt, site, flavor, set(access))

    return await _until_stable(lambda: _flavor_state(rt, flavor_id), apply)


async def _drop_flavor_copy(rt: Runtime, site: Site, flavor_id: str) -> dict:
    bottom_id = (await rt.routes.bottom_ids("flavor", site.id, [flavor_id])).get(flavor_id)
    if bottom_id is not None:
        client = rt.registry.client(site.id)
        _ok(client, await client.service_request("compute", "DELETE", f"/flavors/{bottom_id}"), 202, 204, 404)
    await rt.routes.forget("flavor", flavor_id, site_id=site.id)
    return {"deleted": bottom_id}


async def _match_flavor_copy(rt: Runtime, site: Site, flavor: Flavor, access: set[str]) -> dict:
    bottom_id = await dependencies.flavor_in_site(rt, flavor, site)
    client = rt.registry.client(site.id)
    base = f"/flavors/{bottom_id}"
    response = await client.service_request("compute", "GET", f"{base}/os-extra_specs")
    client.raise_for_error(response)
    has, wanted = response.body.get("extra_specs") or {}, dict(flavor.extra_specs)
    changed = {key: value for key, value in wanted.items() if has.get(key) != value}
    if changed:
        _ok(client, await client.service_request("compute", "POST", f"{base}/os-extra_specs",
                                                 json={"extra_specs": changed}))
    for key in set(has) - set(wanted):
        _ok(client, await client.service_request("compute", "DELETE", f"{base}/os-extra_specs/{key}"), 404)
    if APIVersion(site.compute_max_version) >= APIVersion("2.55"):
        response = await client.service_request("compute", "GET", base, microversion="2.55")
        client.raise_for_error(response)
        if response.body["flavor"].get("description") != flavor.description:
            _ok(client, await client.service_request("compute", "PUT", base, microversion="2.55",
                                                     json={"flavor": {"description": flavor.description}}))
    if not flavor.is_public:
        await _match_access(client, base, access)
    return {"copy": bottom_id}


async def _match_access(client, base: str, wanted: set[str]) -> None:
    response = await client.service_request("compute", "GET", f"{base}/os-flavor-access")
    if response.status == 404:
        return  # a site without access lists: its own create check then says what it thinks
    client.raise_for_error(response)
    has = {grant["tenant_id"] for grant in response.body.get("flavor_access") or []}
    for project_id in wanted - has:
        _ok(client, await client.service_request("compute", "POST", f"{base}/action",
                                                 json={"addTenantAccess": {"tenant": project_id}}), 409)
    for project_id in has - wanted:
        _ok(client, await client.service_request("compute", "POST", f"{base}/action",
                                                 json={"removeTenantAccess": {"tenant": project_id}}), 404)


# ---- key pairs -------------------------------------------------------------

async def converge_keypair(rt: Runtime, site: Site, payload: dict) -> dict:
    keypair_id, user_id, name = payload["top_id"], payload["user_id"], payload["name"]
    try:
        if (await rt.keypairs.get(user_id, name)).id == keypair_id:
            return {"kept": True}
    except errors.NotFound:
        pass
    if keypair_id not in await rt.routes.bottom_ids("keypair", site.id, [keypair_id]):
        return {"deleted": False}
    if APIVersion(site.compute_max_version) < APIVersion("2.10"):
        raise Permanent(f"site {site.name} cannot delete another user's key pair (it lacks 2.10)")
    client = rt.registry.client(site.id)
    _ok(client, await client.service_request("compute", "DELETE", f"/os-keypairs/{name}", microversion="2.10",
                                             params={"user_id": user_id}), 202, 204, 404)
    await rt.routes.forget("keypair", keypair_id, site_id=site.id)
    return {"deleted": True}


# ---- server groups ---------------------------------------------------------

async def converge_server_group(rt: Runtime, site: Site, payload: dict) -> dict:
    group_id = payload["top_id"]
    try:
        await rt.server_groups.get(group_id)
        return {"kept": True}
    except errors.NotFound:
        pass
    client = rt.registry.client(site.id)
    copies = {r.bottom_id for r in await rt.routes.routes_of(GROUP_ROUTE_KIND, group_id)
              if r.site_id == site.id and r.bottom_id}
    response = await client.service_request("compute", "GET", "/os-server-groups", params={"all_projects": "True"})
    client.raise_for_error(response)
    copies |= {g["id"] for g in response.body.get("server_groups") or [] if g.get("name") == bottom_group_name(group_id)}
    for bottom_id in sorted(copies):
        _ok(client, await client.service_request("compute", "DELETE", f"/os-server-groups/{bottom_id}"), 204, 404)
    await rt.routes.forget(GROUP_ROUTE_KIND, group_id, site_id=site.id)
    return {"deleted": sorted(copies)}


_CONVERGE: dict[str, Converge] = {FLAVOR: converge_flavor, KEYPAIR: converge_keypair,
                                  SERVER_GROUP: converge_server_group}


@retry_unless_refused
async def _run(rt: Runtime, job: Job) -> dict:
    if not _known(rt, job.payload["site_id"]):
        return {"site": "gone"}
    return await _CONVERGE[job.kind](rt, rt.registry.get(job.payload["site_id"]), job.payload)


@handler(FLAVOR)
async def push_flavor(rt: Runtime, job: Job) -> dict:
    return await _run(rt, job)


@handler(KEYPAIR)
async def push_keypair(rt: Runtime, job: Job) -> dict:
    return await _run(rt, job)


@handler(SERVER_GROUP)
async def push_server_group(rt: Runtime, job: Job) -> dict:
    return await _run(rt, job)
