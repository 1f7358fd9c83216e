"""The admin front (`/cascade/v1`): sites, their state, health and capacity.
Every call needs the admin role."""
from __future__ import annotations

import logging

from aiohttp import web

from cascade import errors
from cascade.adoption import jobs as adoption_jobs
from cascade.api.admin import adoption, jobs, servers
from cascade.api.admin.common import site_of
from cascade.api.admin.jobs import view as job_view
from cascade.api.compute import dependencies
from cascade.api.compute.common import body_of, context, reply, require_admin, runtime_of
from cascade.sites.discovery import discover
from cascade.sites.model import DISABLED, DRAINING, ENABLED, Site

LOG = logging.getLogger(__name__)
STATES = {ENABLED, DISABLED, DRAINING}


def view(site: Site) -> dict:
    return {"id": site.id, "name": site.name, "availability_zone": site.availability_zone,
            "region_name": site.region_name, "state": site.state, "health": site.health,
            "compute_min_version": site.compute_min_version, "compute_max_version": site.compute_max_version,
            "services": sorted(site.endpoints), "position": site.position,
            "capacity": {"vcpus": site.capacity.vcpus, "vcpus_used": site.capacity.vcpus_used,
                         "memory_mb": site.capacity.memory_mb, "memory_mb_used": site.capacity.memory_mb_used}}


async def version(request: web.Request) -> web.Response:
    return reply({"version": {"id": "v1", "status": "CURRENT"}})


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:list")
    return reply({"sites": [view(s) for s in rt.registry.all()]})


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:show")
    return reply({"site": view(site_of(rt, request.match_info["site"]))})


async def create(request: web.Request) -> web.Response:
    """Register a site from a clouds.yaml entry: discover its endpoints and
    versions, then adopt its flavors and public images. With `"adopt": true`,
    the adoption of everything else it holds is queued (answered as `job`)."""
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:create")
    body = await body_of(request, "site")
    spec = body["site"]
    if not isinstance(spec, dict) or not spec.get("name") or not isinstance(spec.get("cloud"), dict):
        raise errors.BadRequest("A site needs a name and a cloud (a clouds.yaml entry).")
    if not isinstance(spec.get("adopt", False), bool):
        raise errors.BadRequest("'adopt' must be true or false.")
    cloud = spec["cloud"]
    found = await discover(cloud, settings=rt.settings.sites)
    shares_keystone = found.auth_url.rstrip("/") == rt.service_auth.auth_url.rstrip("/")
    if spec.get("adopt") and not shares_keystone:
        raise errors.BadRequest("A site with its own Keystone cannot be adopted: the project and user ids of "
                                "its servers are not the cascade's.")
    site = await rt.registry.add(
        name=spec["name"], availability_zone=spec.get("availability_zone") or spec["name"],
        region_name=found.region_name or "", auth_url=found.auth_url, endpoints=found.endpoints,
        auth={} if shares_keystone else dict(cloud.get("auth", {})),
        compute_min_version=found.compute_min_version, compute_max_version=found.compute_max_version,
        capacity=found.capacity, health="up")
    try:
        await dependencies.adopt_site_flavors(rt, site)
        await dependencies.sync_site_images(rt, site)
    except errors.CascadeError as exc:
        LOG.warning("site %s added, but adopting its flavors/images failed: %s", site.name, exc)
    if rt.health is not None:
        await rt.health.run_once()
    answer = {"site": view(rt.registry.get(site.id))}
    if spec.get("adopt"):
        answer["job"] = job_view(await adoption_jobs.start(rt, site))
    return reply(answer, status=201)


async def update(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:update")
    site = site_of(rt, request.match_info["site"])
    spec = (await body_of(request, "site"))["site"]
    if not isinstance(spec, dict) or set(spec) - {"state"} or spec.get("state") not in STATES:
        raise errors.BadRequest(f"Only the state may be changed, to one of {sorted(STATES)}.")
    return reply({"site": view(await rt.registry.update(site.id, state=spec["state"]))})


async def delete(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    require_admin(ctx, "cascade:sites:delete")
    site = site_of(rt, request.match_info["site"])
    force = request.query.get("force", "").lower() in ("1", "true", "yes")
    await rt.registry.remove(site.id, force=force, routes=rt.routes)
    return reply(status=204)


def build_app() -> web.Application:
    app = web.Application()
    r = app.router
    r.add_get("/v1", version)
    r.add_get("/v1/", version)
    r.add_get("/v1/sites", index)
    r.add_post("/v1/sites", create)
    r.add_get("/v1/sites/{site}", show)
    r.add_patch("/v1/sites/{site}", update)
    r.add_put("/v1/sites/{site}", update)
    r.add_delete("/v1/sites/{site}", delete)
    jobs.add_routes(r)
    adoption.add_routes(r)
    servers.add_routes(r)
    return app
