"""Limits: the project's absolute limits and what it uses, as Nova builds
them from its quotas, here from the cascade's global quotas (the limits a
tenant is held to whichever site serves it; sites' own quotas are not
shown). Keys follow Nova's microversions: the network limits go from 2.36,
maxImageMeta from 2.39, the personality ones from 2.57."""
from __future__ import annotations

from aiohttp import web

from cascade.api.compute.common import context, reply, require_admin, runtime_of
from cascade.api.compute.quotas import validate_query
from cascade.sites.versions import at_least

# quota resource -> its limits' names
LIMIT_NAMES = {
    "ram": ("maxTotalRAMSize",),
    "instances": ("maxTotalInstances",),
    "cores": ("maxTotalCores",),
    "key_pairs": ("maxTotalKeypairs",),
    "floating_ips": ("maxTotalFloatingIps",),
    "metadata_items": ("maxServerMeta", "maxImageMeta"),
    "injected_files": ("maxPersonality",),
    "injected_file_content_bytes": ("maxPersonalitySize",),
    "security_groups": ("maxSecurityGroups",),
    "security_group_rules": ("maxSecurityGroupRules",),
    "server_groups": ("maxServerGroups",),
    "server_group_members": ("maxServerGroupMembers",),
}
USED_NAMES = {
    "totalRAMUsed": "ram",
    "totalCoresUsed": "cores",
    "totalInstancesUsed": "instances",
    "totalFloatingIpsUsed": "floating_ips",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}


def _hidden(version: str | None) -> set[str]:
    hidden = set()
    if at_least(version, "2.36"):
        hidden |= {"floating_ips", "security_groups", "security_group_rules"}
    if at_least(version, "2.57"):
        hidden |= {"injected_files", "injected_file_content_bytes"}
    return hidden


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    validate_query(request, ["tenant_id"])
    project_id = ctx.project_id
    if "tenant_id" in request.query:
        require_admin(ctx, "os_compute_api:limits:other_project")
        project_id = request.query["tenant_id"]
    quotas = await rt.quotas.detail(project_id)
    hidden = _hidden(ctx.microversion)
    absolute = {}
    for resource, names in LIMIT_NAMES.items():
        if resource not in hidden:
            absolute.update({name: quotas[resource]["limit"] for name in names
                             if name != "maxImageMeta" or not at_least(ctx.microversion, "2.39")})
    absolute.update({name: quotas[resource]["in_use"] for name, resource in USED_NAMES.items()
                     if resource not in hidden})
    return reply({"limits": {"absolute": absolute, "rate": []}})


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/limits", show)
