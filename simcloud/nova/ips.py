"""`/servers/{id}/ips` and `/servers/{id}/ips/{network}`: a server's
addresses by network, without the extended attributes of the server view."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import server_views
from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ctx
from simcloud.nova.errors import not_found
from simcloud.nova.servers import find_server
from simcloud.nova.store import ComputeStore


class IpsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        base = "/v2.1/servers/{server_id}/ips"
        return [web.get(base, self.index), web.get(base + "/{network}", self.show)]

    def _addresses(self, request: web.Request) -> dict:
        context = ctx(request)
        V.no_query(context.version, request.query)
        server = find_server(self.store, context, request.match_info["server_id"])
        return server_views.addresses(server, extended=False)

    async def index(self, request: web.Request) -> web.Response:
        return respond({"addresses": self._addresses(request)})

    async def show(self, request: web.Request) -> web.Response:
        addresses = self._addresses(request)
        network = request.match_info["network"]
        if network not in addresses:
            raise not_found("Instance is not a member of specified network")
        return respond({network: addresses[network]})
