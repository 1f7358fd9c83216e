"""A project's own quota in each site, opened up at its first placement there.

The cascade's global quotas are the ones that count (`cascade.quotas`), so a
site's per-project limits would only refuse what the cascade allowed (and
the top-id stamp takes one metadata item more than the tenant sees). At a
project's first placement in a site, the placement (or, when the site
cannot take it then, a job) sets the project's quota there
to unlimited for what the cascade counts itself, as the service account
(os-quota-sets), and records it as a route `site_quota` (top id and bottom
id the project's id), so that later placements cost one cached lookup.
Idempotent: setting the same limits again changes nothing.
"""
from __future__ import annotations

import logging

from cascade import errors
from cascade.consistency import retry_unless_refused
from cascade.jobs.registry import handler
from cascade.persistence.jobs import Job
from cascade.runtime import Runtime
from cascade.sites.model import Site

LOG = logging.getLogger(__name__)

OPEN = "site_quota.open"
ROUTE_KIND = "site_quota"
UNLIMITED = {"instances": -1, "cores": -1, "ram": -1, "metadata_items": -1, "key_pairs": -1,
             "server_groups": -1, "server_group_members": -1}


async def ensure_open(rt: Runtime, site: Site, project_id: str) -> None:
    """Open `project_id`'s quota in `site` unless done: at once, so that the
    placement that needs it finds it open (a project adopted with servers
    there may already be at the site's own limit); when the site cannot
    take it now, a job carries it on."""
    if project_id in await rt.routes.bottom_ids(ROUTE_KIND, site.id, [project_id]):
        return
    try:
        await _open(rt, site.id, project_id)
        return
    except errors.CascadeError as exc:
        LOG.warning("opening the quota of %s in site %s failed, left to a job: %s", project_id, site.name, exc)
    await rt.jobs.enqueue(OPEN, {"site_id": site.id, "project_id": project_id},
                          key=f"{OPEN}:{project_id}:{site.id}", max_attempts=100)
    if rt.worker is not None:
        rt.worker.wake()


@handler(OPEN)
@retry_unless_refused
async def open_quota(rt: Runtime, job: Job) -> dict:
    try:
        return await _open(rt, job.payload["site_id"], job.payload["project_id"])
    except errors.NotFound:
        return {"site": "gone"}


async def _open(rt: Runtime, site_id: str, project_id: str) -> dict:
    """Set the project's quota in the site, then record it (idempotent)."""
    client = rt.registry.client(site_id)
    response = await client.service_request("compute", "PUT", f"/os-quota-sets/{project_id}",
                                            json={"quota_set": UNLIMITED})
    client.raise_for_error(response)
    known = await rt.routes.bottom_ids(ROUTE_KIND, site_id, [project_id])
    if project_id not in known:
        try:
            await rt.routes.reserve(ROUTE_KIND, site_id=site_id, project_id=project_id, top_id=project_id)
        except errors.Conflict:
            pass  # reserved by a run that was cut short, or by a placement beside this one
        await rt.routes.bind(ROUTE_KIND, project_id, site_id, project_id)
    return {"quota_set": response.body.get("quota_set")}
