"""`/os-availability-zone` and its admin `detail`: the site's one zone (its
own name, as a real Nova reports it) and, in detail, the internal zone."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova.app import respond
from simcloud.nova.context import ctx
from simcloud.nova.errors import policy_forbidden
from simcloud.nova.store import ComputeStore


def _service(available: bool = True) -> dict:
    return {"active": True, "available": available, "updated_at": None}


class AvailabilityZonesResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/os-availability-zone", self.index),
                web.get("/v2.1/os-availability-zone/detail", self.detail)]

    async def index(self, request: web.Request) -> web.Response:
        return respond({"availabilityZoneInfo": [{
            "zoneName": self.store.availability_zone, "zoneState": {"available": True},
            "hosts": None}]})

    async def detail(self, request: web.Request) -> web.Response:
        if not ctx(request).is_admin:
            raise policy_forbidden("os_compute_api:os-availability-zone:detail")
        control = f"{self.store.site_name}-control"
        return respond({"availabilityZoneInfo": [
            {"zoneName": "internal", "zoneState": {"available": True},
             "hosts": {control: {"nova-conductor": _service(), "nova-scheduler": _service()}}},
            {"zoneName": self.store.availability_zone, "zoneState": {"available": True},
             "hosts": {self.store.host: {"nova-compute": _service()}}},
        ]})
