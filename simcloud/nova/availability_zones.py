"""`/os-availability-zone` and its admin `detail`: the site's one zone (its
own name, as a real Nova reports it) and, in detail, the internal zone. The
site is a single node: its control services run on its compute host, and
each service's `updated_at` is its last heartbeat (every 10 seconds)."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.app import respond
from simcloud.nova.context import ctx
from simcloud.nova.errors import policy_forbidden
from simcloud.nova.store import ComputeStore
from simcloud.nova.timefmt import microtime


REPORT_INTERVAL = 10


def _service(heartbeat: float) -> dict:
    return {"available": True, "active": True, "updated_at": microtime(heartbeat)}


class AvailabilityZonesResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/os-availability-zone", self.index),
                web.get("/v2.1/os-availability-zone/detail", self.detail)]

    async def index(self, request: web.Request) -> web.Response:
        V.no_query(ctx(request).version, request.query)
        return respond({"availabilityZoneInfo": [{
            "zoneName": self.store.availability_zone, "zoneState": {"available": True},
            "hosts": None}]})

    async def detail(self, request: web.Request) -> web.Response:
        context = ctx(request)
        V.no_query(context.version, request.query)
        if not context.is_admin:
            raise policy_forbidden("os_compute_api:os-availability-zone:detail")
        now = self.store.clock()
        heartbeat = now - now % REPORT_INTERVAL
        host = self.store.host
        return respond({"availabilityZoneInfo": [
            {"zoneName": "internal", "zoneState": {"available": True},
             "hosts": {host: {"nova-scheduler": _service(heartbeat),
                              "nova-conductor": _service(heartbeat)}}},
            {"zoneName": self.store.availability_zone, "zoneState": {"available": True},
             "hosts": {host: {"nova-compute": _service(heartbeat)}}},
        ]})
