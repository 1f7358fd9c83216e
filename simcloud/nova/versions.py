"""The compute version documents (`GET /compute/`, `/compute/v2.1/` and the
deprecated `/compute/v2/`), unauthenticated as in Nova, with links built from
the request's host and the site's own microversion range. The legacy v2.0
API itself is not served; only its document is, as Nova lists it."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova.app import respond
from simcloud.nova.microversion import Version, to_text

_V20_UPDATED = "2025-07-04T12:00:00Z"


def _media_types(version: str) -> list[dict]:
    return [{"base": "application/json",
             "type": f"application/vnd.openstack.compute+json;version={version}"}]


class VersionsResource:
    def __init__(self, minimum: Version, maximum: Version) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def _v21(self, origin: str) -> dict:
        return {"id": "v2.1", "status": "CURRENT", "version": to_text(self.maximum),
                "min_version": to_text(self.minimum), "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{origin}/compute/v2.1/"}]}

    @staticmethod
    def _v20(origin: str) -> dict:
        return {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "",
                "updated": _V20_UPDATED,
                "links": [{"rel": "self", "href": f"{origin}/compute/v2/"}]}

    async def index(self, request: web.Request) -> web.Response:
        origin = str(request.url.origin())
        return respond({"versions": [self._v20(origin), self._v21(origin)]})

    @staticmethod
    def _detailed(version: dict, media: str) -> dict:
        version["links"].append({"rel": "describedby", "type": "text/html",
                                 "href": "http://docs.openstack.org/"})
        version["media-types"] = _media_types(media)
        return {"version": version}

    async def show(self, request: web.Request) -> web.Response:
        return respond(self._detailed(self._v21(str(request.url.origin())), "2.1"))

    async def show_v20(self, request: web.Request) -> web.Response:
        return respond(self._detailed(self._v20(str(request.url.origin())), "2"))

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.index), web.get("/v2.1", self.show),
                web.get("/v2.1/", self.show), web.get("/v2", self.show_v20),
                web.get("/v2/", self.show_v20)]
