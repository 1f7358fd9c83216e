"""`/servers/{id}/shares` (2.97): a simulated site has no Manila, so no share
is ever attached: the list is empty and any share is not found. Attaching
and detaching are not served."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ctx
from simcloud.nova.errors import not_found
from simcloud.nova.servers import find_server
from simcloud.nova.store import ComputeStore

SINCE = (2, 97)


class SharesResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        base = "/v2.1/servers/{server_id}/shares"
        return [web.get(base, self.index), web.get(base + "/{share_id}", self.show)]

    def _check(self, request: web.Request) -> None:
        context = ctx(request)
        if context.version < SINCE:
            raise not_found()
        V.no_query(context.version, request.query, since=SINCE)
        find_server(self.store, context, request.match_info["server_id"])

    async def index(self, request: web.Request) -> web.Response:
        self._check(request)
        return respond({"shares": []})

    async def show(self, request: web.Request) -> web.Response:
        self._check(request)
        raise not_found(f"Share {request.match_info['share_id']} could not be found.")
