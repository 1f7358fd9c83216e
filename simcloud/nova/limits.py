"""`GET /limits`: the token's project's absolute limits and usage (an admin
may ask for another project with `tenant_id`), with the fields each
microversion removed (2.36 network proxies, 2.39 image meta, 2.57
personality)."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova.app import respond
from simcloud.nova.context import ctx
from simcloud.nova.errors import policy_forbidden
from simcloud.nova.store import ComputeStore


class LimitsResource:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2.1/limits", self.show)]

    async def show(self, request: web.Request) -> web.Response:
        context = ctx(request)
        project_id = request.query.get("tenant_id") or context.project_id
        if project_id != context.project_id and not context.is_admin:
            raise policy_forbidden("os_compute_api:limits:other_project")
        quotas, usage = self.store.quotas, self.store.project(project_id)
        absolute: dict = {
            "maxServerMeta": quotas.metadata_items, "maxTotalCores": quotas.cores,
            "maxTotalInstances": quotas.instances, "maxTotalKeypairs": quotas.key_pairs,
            "maxTotalRAMSize": quotas.ram, "maxServerGroups": quotas.server_groups,
            "maxServerGroupMembers": quotas.server_group_members,
            "totalCoresUsed": usage.cores, "totalInstancesUsed": usage.instances,
            "totalRAMUsed": usage.ram, "totalServerGroupsUsed": 0,
        }
        v = context.version
        if v < (2, 36):
            absolute.update({"maxSecurityGroupRules": -1, "maxSecurityGroups": -1,
                             "maxTotalFloatingIps": -1, "totalSecurityGroupsUsed": 0,
                             "totalFloatingIpsUsed": 0})
        if v < (2, 39):
            absolute["maxImageMeta"] = quotas.metadata_items
        if v < (2, 57):
            absolute.update({"maxPersonality": 5, "maxPersonalitySize": 10240})
        return respond({"limits": {"absolute": absolute, "rate": []}})
