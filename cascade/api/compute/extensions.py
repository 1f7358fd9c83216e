"""`/extensions` and `/extensions/{alias}`: Nova's list of API extensions.

It is a constant of Nova's API (what every v2.1 Nova answers, whatever its
deployment), not a fact of a site, and the cascade serves Nova's API: so it
is asked of any one site (`patterns.forward_any`) and relayed, and stays
what Nova says as Nova changes it."""
from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cascade.api import patterns
from cascade.api.compute.common import context, reply, runtime_of


async def extensions(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    alias = request.match_info.get("alias")
    path = "/extensions" if alias is None else f"/extensions/{quote(alias, safe='')}"
    response = await patterns.forward_any(rt, ctx, "compute", "GET", path, params=request.query)
    return reply(response.body, status=response.status)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/extensions", extensions)
    router.add_get(f"{prefix}/extensions/{{alias}}", extensions)
