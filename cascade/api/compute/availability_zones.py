"""Availability zones: one per site, available while the site takes new servers."""
from __future__ import annotations

from aiohttp import web

from cascade.api.compute.common import context, reply, require_admin, runtime_of


def _zones(rt, *, detail: bool) -> list[dict]:
    return [{"zoneName": site.availability_zone, "zoneState": {"available": site.accepts_placements},
             "hosts": {} if detail else None} for site in rt.registry.all()]


async def index(request: web.Request) -> web.Response:
    return reply({"availabilityZoneInfo": _zones(runtime_of(request), detail=False)})


async def detail(request: web.Request) -> web.Response:
    require_admin(context(request), "os_compute_api:os-availability-zone:detail")
    return reply({"availabilityZoneInfo": _zones(runtime_of(request), detail=True)})


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/os-availability-zone", index)
    router.add_get(f"{prefix}/os-availability-zone/detail", detail)
