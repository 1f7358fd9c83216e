"""Limits: each reachable site's absolute limits for the tenant, summed.

Totals and usage add up across sites; per-item limits (metadata items, key
pairs per user, ...) are the strictest site's, since any site may get the
next server. -1 (unlimited) anywhere makes a sum unlimited."""
from __future__ import annotations

from aiohttp import web

from cascade import errors
from cascade.api import patterns
from cascade.api.compute.common import context, reply, require_admin, runtime_of

SUMMED = {"maxTotalCores", "maxTotalInstances", "maxTotalRAMSize", "maxServerGroups", "maxTotalFloatingIps",
          "maxSecurityGroups", "totalCoresUsed", "totalInstancesUsed", "totalRAMUsed", "totalServerGroupsUsed",
          "totalFloatingIpsUsed", "totalSecurityGroupsUsed"}


def combine(values: list[int], summed: bool) -> int:
    if summed:
        return -1 if any(v == -1 for v in values) else sum(values)
    bounded = [v for v in values if v != -1]
    return min(bounded) if bounded else -1


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    params = {}
    if "tenant_id" in request.query:
        require_admin(ctx, "os_compute_api:limits:other_project")
        params["tenant_id"] = request.query["tenant_id"]
    sites = [s for s in rt.registry.all() if s.health != "down"]

    async def limits_of(site):
        response = await patterns.forward(rt, ctx, site, "compute", "GET", "/limits", params=params)
        return response.body["limits"]["absolute"]

    answers = [r.value for r in await patterns.fan_out(rt, sites, limits_of) if r.ok]
    if sites and not answers:
        raise errors.SiteUnavailable("No availability zone answered.", site="*")
    keys = sorted({k for answer in answers for k in answer})
    absolute = {k: combine([a[k] for a in answers if k in a], k in SUMMED) for k in keys}
    return reply({"limits": {"absolute": absolute, "rate": []}})


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/limits", show)
