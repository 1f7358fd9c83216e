"""`/os-hypervisors` (admin): the site's one compute node with its capacity
and usage, so a caller can read how much room the site has. Up to 2.87 the
detail and `statistics` carry vcpus/memory/disk figures; 2.88 removed them
(and `statistics`), as in Nova."""
from __future__ import annotations

import json

from aiohttp import web

from simcloud.nova.app import respond
from simcloud.nova.context import ComputeContext, ctx
from simcloud.nova.errors import not_found, policy_forbidden
from simcloud.nova.store import ComputeStore

_CPU_INFO = {"arch": "x86_64", "model": "Nehalem", "vendor": "Intel", "features": [],
             "topology": {"cores": 1, "threads": 1, "sockets": 1}}


class HypervisorsResource:
    def __init__(self, store: ComputeStore, host_ip: str = "127.0.0.1") -> None:
        self.store = store
        self.host_ip = host_ip

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/os-hypervisors", self.index),
                web.get("/v2.1/os-hypervisors/detail", self.detail),
                web.get("/v2.1/os-hypervisors/statistics", self.statistics),
                web.get("/v2.1/os-hypervisors/{hypervisor_id}", self.show)]

    def _admin(self, request: web.Request, rule: str) -> ComputeContext:
        context = ctx(request)
        if not context.is_admin:
            raise policy_forbidden(f"os_compute_api:os-hypervisors:{rule}")
        return context

    def _id(self, context: ComputeContext) -> int | str:
        return self.store.hypervisor_id if context.version >= (2, 53) else 1

    def _figures(self) -> dict:
        cap, used = self.store.capacity, self.store.used
        return {"vcpus": cap.vcpus, "vcpus_used": used.vcpus, "memory_mb": cap.ram_mb,
                "memory_mb_used": used.ram_mb, "local_gb": cap.disk_gb,
                "local_gb_used": used.disk_gb, "free_ram_mb": cap.ram_mb - used.ram_mb,
                "free_disk_gb": cap.disk_gb - used.disk_gb, "current_workload": 0,
                "running_vms": self.store.running_vms,
                "disk_available_least": cap.disk_gb - used.disk_gb}

    def _brief(self, context: ComputeContext) -> dict:
        return {"id": self._id(context), "hypervisor_hostname": f"{self.store.host}.sim",
                "state": "up", "status": "enabled"}

    def _detail(self, context: ComputeContext) -> dict:
        view = self._brief(context)
        view.update({"hypervisor_type": "fake", "hypervisor_version": 1000,
                     "host_ip": self.host_ip,
                     "service": {"host": self.store.host, "disabled_reason": None,
                                 "id": self.store.service_id if context.version >= (2, 53)
                                 else 1}})
        if context.version < (2, 88):
            view.update(self._figures())
            view["cpu_info"] = _CPU_INFO if context.version >= (2, 28) else json.dumps(_CPU_INFO)
        else:
            view["uptime"] = None
        return view

    async def index(self, request: web.Request) -> web.Response:
        context = self._admin(request, "list")
        return respond({"hypervisors": [self._brief(context)]})

    async def detail(self, request: web.Request) -> web.Response:
        context = self._admin(request, "list-detail")
        return respond({"hypervisors": [self._detail(context)]})

    async def show(self, request: web.Request) -> web.Response:
        context = self._admin(request, "show")
        wanted = request.match_info["hypervisor_id"]
        if wanted != str(self._id(context)):
            raise not_found(f"Hypervisor with ID {wanted} could not be found.")
        return respond({"hypervisor": self._detail(context)})

    async def statistics(self, request: web.Request) -> web.Response:
        context = self._admin(request, "statistics")
        if context.version >= (2, 88):
            raise not_found()
        figures = self._figures()
        figures["count"] = 1
        return respond({"hypervisor_statistics": figures})
