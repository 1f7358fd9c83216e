"""The compute version documents (`GET /compute/` and `GET /compute/v2.1/`),
unauthenticated as in Nova, with links built from the request's host and the
site's own microversion range."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova.microversion import Version, to_text

_MEDIA_TYPES = [{"base": "application/json",
                 "type": "application/vnd.openstack.compute+json;version=2.1"}]


class VersionsResource:
    def __init__(self, minimum: Version, maximum: Version) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def _v21(self, origin: str) -> dict:
        return {"id": "v2.1", "status": "CURRENT", "version": to_text(self.maximum),
                "min_version": to_text(self.minimum), "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{origin}/compute/v2.1/"}]}

    async def index(self, request: web.Request) -> web.Response:
        return web.json_response({"versions": [self._v21(str(request.url.origin()))]})

    async def show(self, request: web.Request) -> web.Response:
        version = self._v21(str(request.url.origin()))
        version["links"].append({"rel": "describedby", "type": "text/html",
                                 "href": "http://docs.openstack.org/"})
        version["media-types"] = _MEDIA_TYPES
        return web.json_response({"version": version})

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.index), web.get("/v2.1", self.show),
                web.get("/v2.1/", self.show)]
