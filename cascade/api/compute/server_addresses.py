"""A server's addresses (`/servers/{id}/ips`, `/servers/{id}/ips/{network}`):
routed to its site and relayed. They hold network names and addresses, no
ids: until the network front exists, networks are the site's own."""
from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cascade.api import patterns
from cascade.api.compute.common import context, reply, runtime_of
from cascade.api.compute.servers import not_found
from cascade.resources.kinds import SERVER


async def addresses(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    target = await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id))
    network = request.match_info.get("network")
    subpath = "/ips" if network is None else f"/ips/{quote(network, safe='')}"
    response = await patterns.forward_routed(rt, ctx, target, "GET", subpath, params=request.query)
    return reply(response.body, status=response.status)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/servers/{{server_id}}/ips", addresses)
    router.add_get(f"{prefix}/servers/{{server_id}}/ips/{{network}}", addresses)
