"""`GET /limits`: the token's project's absolute limits and usage (an admin
may ask for another project with `tenant_id`), with the fields each
microversion removed (2.36 network proxies, 2.39 image meta, 2.57
personality)."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import quotas
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
        limits = self.store.quota_book.project_limits(project_id)
        used = quotas.usage(self.store, project_id, shown=True)
        absolute: dict = {
            "maxServerMeta": limits["metadata_items"], "maxTotalCores": limits["cores"],
            "maxTotalInstances": limits["instances"], "maxTotalKeypairs": limits["key_pairs"],
            "maxTotalRAMSize": limits["ram"], "maxServerGroups": limits["server_groups"],
            "maxServerGroupMembers": limits["server_group_members"],
            "totalCoresUsed": used["cores"], "totalInstancesUsed": used["instances"],
            "totalRAMUsed": used["ram"], "totalServerGroupsUsed": used["server_groups"],
        }
        v = context.version
        if v < (2, 36):
            absolute.update({"maxSecurityGroupRules": limits["security_group_rules"],
                             "maxSecurityGroups": limits["security_groups"],
                             "maxTotalFloatingIps": limits["floating_ips"],
                             "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0})
        if v < (2, 39):
            absolute["maxImageMeta"] = limits["metadata_items"]
        if v < (2, 57):
            absolute.update({"maxPersonality": limits["injected_files"],
                             "maxPersonalitySize": limits["injected_file_content_bytes"]})
        return respond({"limits": {"absolute": absolute, "rate": []}})
