"""`GET /extensions` and `/extensions/{alias}`: Nova's (frozen) list of API
extensions, the same on every Nova; an unknown alias is webob's bare 404
("The resource could not be found.")."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ctx
from simcloud.nova.errors import not_found
from simcloud.nova.extension_list import EXTENSIONS, NAMESPACE, UPDATED

_BY_ALIAS = {alias: (alias, name, description) for alias, name, description in EXTENSIONS}


def _view(alias: str, name: str, description: str) -> dict:
    return {"alias": alias, "description": description, "links": [], "name": name,
            "namespace": NAMESPACE, "updated": UPDATED}


class ExtensionsResource:
    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/extensions", self.index),
                web.get("/v2.1/extensions/{alias}", self.show)]

    async def index(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        return respond({"extensions": [_view(*entry) for entry in EXTENSIONS]})

    async def show(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        entry = _BY_ALIAS.get(request.match_info["alias"])
        if entry is None:
            raise not_found()
        return respond({"extension": _view(*entry)})
