"""Servers that are gone from a site, or should be.

- Deleted straight in the site: marked deleted at the top as a delete made
  through the cascade marks them (`consistency.servers.mark_deleted`: route
  kept as "deleting", projection deleted, groups left).
- Leftovers of a crashed create: a bottom server stamped with a top id
  that has no route at all, and that no unfinished job (an operation under
  way, or its recovery) names: the tenant never got it, so it is deleted in
  the site.
- Purged: a deleted server's route, once its site no longer lists it and
  `[sync] deleted_retention` has passed, goes with its projection row and
  the `request` routes of its instance actions.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Iterable

from cascade import errors
from cascade.adoption.site_servers import stamp_of
from cascade.consistency import servers as recovery
from cascade.resources.kinds import SERVER
from cascade.routing import request_ids
from cascade.sites.model import Site

if TYPE_CHECKING:
    from cascade.runtime import Runtime

LOG = logging.getLogger(__name__)

CONCURRENCY = 8
# jobs that name servers only to watch them: their mention does not make a server busy
WATCHING_KINDS = ("sync.changes", "sync.sweep")


async def mark_deleted(rt: "Runtime", site: Site, top_id: str, bottom_id: str) -> None:
    await recovery.mark_deleted(rt, top_id, site.id)
    LOG.info("server %s (%s in site %s) was deleted in its site: marked deleted", top_id, bottom_id, site.name)


async def _bounded(calls: Iterable, concurrency: int = CONCURRENCY) -> list:
    gate = asyncio.Semaphore(concurrency)

    async def one(call):
        async with gate:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


async def absent(rt: "Runtime", site: Site, bottom_ids: Iterable[str]) -> set[str]:
    """Which of `bottom_ids` the site says are gone (404, or DELETED), each
    asked on its own: a server a list left out is not taken as deleted on
    the list's word alone (a site's cell may be down)."""
    client = rt.registry.client(site.id)

    async def gone(bottom_id: str) -> bool:
        response = await client.service_request("compute", "GET", f"/servers/{bottom_id}")
        if response.status == 404:
            return True
        client.raise_for_error(response)
        return ((response.body or {}).get("server") or {}).get("status") == "DELETED"

    ids = list(dict.fromkeys(bottom_ids))
    return {bottom_id for bottom_id, is_gone in zip(ids, await _bounded(gone(i) for i in ids)) if is_gone}


async def remove_leftovers(rt: "Runtime", site: Site, servers: list[dict]) -> int:
    """Delete the stamped servers whose top id nothing knows; returns how many."""
    client = rt.registry.client(site.id)
    by_stamp = {stamp_of(server): server for server in servers}
    by_stamp.pop(None, None)
    busy = await rt.jobs.live_mentioning(by_stamp, except_kinds=WATCHING_KINDS)
    removed = 0
    for top_id, server in by_stamp.items():
        if top_id in busy or await rt.routes.routes_of(SERVER.name, top_id):
            continue
        response = await client.service_request("compute", "DELETE", f"/servers/{server['id']}")
        if response.status not in (202, 204, 404, 409):   # 409: busy; the next sync asks again
            client.raise_for_error(response)
        LOG.warning("site %s: server %s (%s) carries top id %s, which has no route and no operation under way: "
                    "a leftover of an interrupted create, deleted", site.name, server["id"], server.get("name"), top_id)
        removed += 1
    return removed


async def purge(rt: "Runtime", site: Site, gone: dict[str, str | None]) -> int:
    """Forget deleted servers (top id -> bottom id, None when its route is
    gone already) for good; returns how many."""
    for top_id, bottom_id in gone.items():
        if bottom_id is not None:
            await _forget_requests(rt, site, bottom_id)
        await rt.servers.delete(top_id)
        await rt.routes.forget(SERVER.name, top_id, site_id=site.id)
        LOG.info("server %s (deleted) purged: its route, projection row and request ids", top_id)
    return len(gone)


async def _forget_requests(rt: "Runtime", site: Site, bottom_id: str) -> None:
    """The `request` routes of a server's instance actions, which the site
    still lists for a deleted server (from 2.21) until it archives them."""
    client = rt.registry.client(site.id)
    try:
        response = await client.service_request("compute", "GET", f"/servers/{bottom_id}/os-instance-actions",
                                                microversion="2.21")
    except errors.NotAcceptable:
        return
    if not response.ok:
        return
    site_ids = [a.get("request_id") for a in (response.body or {}).get("instanceActions") or []]
    paired = await rt.routes.top_ids(request_ids.KIND, site.id, [i for i in site_ids if isinstance(i, str)])
    for top_request_id in paired.values():
        await rt.routes.forget(request_ids.KIND, top_request_id, site_id=site.id)
