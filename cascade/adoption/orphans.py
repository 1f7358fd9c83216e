"""Orphans: what a site holds that was made straight in it, not through the
cascade, and so is not the cascade's: servers with no route and no top-id
stamp, flavors with no route, and key pairs (of the users the site's
servers belong to) with no route. They are listed for the operator and
left alone until adopted. A stamped server without a route is no orphan:
a cascade made it, and the crash recovery's sweep removes such leftovers.

The site's servers are read a page at a time, so a site of any size costs
one page of memory plus the orphans found."""
from __future__ import annotations

import dataclasses

from cascade import errors
from cascade.adoption import site_servers
from cascade.api.compute.dependencies import site_flavors
from cascade.resources.kinds import FLAVOR, KEYPAIR, SERVER
from cascade.runtime import Runtime
from cascade.sites.model import Site


@dataclasses.dataclass
class Orphans:
    servers: list[dict] = dataclasses.field(default_factory=list)
    flavors: list[dict] = dataclasses.field(default_factory=list)
    keypairs: list[dict] = dataclasses.field(default_factory=list)
    leftovers: int = 0         # stamped servers without a route (not orphans)

    def view(self) -> dict:
        return dataclasses.asdict(self)


def _server_view(server: dict) -> dict:
    return {"id": server["id"], "name": server.get("name"), "status": server.get("status"),
            "project_id": server.get("tenant_id"), "user_id": server.get("user_id"), "created": server.get("created")}


async def find(rt: Runtime, site: Site) -> Orphans:
    client = rt.registry.client(site.id)
    found = Orphans()
    users: set[str] = set()
    async for page, _ in site_servers.pages(client, page_size=rt.settings.sync.page_size):
        routed = await rt.routes.top_ids(SERVER.name, site.id, [s["id"] for s in page])
        for server in page:
            users.add(server.get("user_id"))
            if server["id"] in routed:
                continue
            if site_servers.stamp_of(server) is not None:
                found.leftovers += 1
            else:
                found.servers.append(_server_view(server))
    flavors = await site_flavors(rt, site)
    routed = await rt.routes.top_ids(FLAVOR.name, site.id, [f["id"] for f in flavors])
    found.flavors = [{"id": f["id"], "name": f["name"]} for f in flavors if f["id"] not in routed]
    for user_id in sorted(users - {None}):
        try:
            keypairs = await site_servers.keypairs_of(client, user_id)
        except errors.NotAcceptable:   # a site older than 2.10 lists only the caller's own
            break
        bottom_ids = [f"{user_id}/{k['name']}" for k in keypairs]
        routed = await rt.routes.top_ids(KEYPAIR.name, site.id, bottom_ids)
        found.keypairs += [{"user_id": user_id, "name": k["name"], "fingerprint": k.get("fingerprint")}
                           for k, bottom in zip(keypairs, bottom_ids) if bottom not in routed]
    return found
