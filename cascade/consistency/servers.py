"""Server creates and deletes, journaled, and their recovery.

A create's entry ends before the tenant is answered, so a create that is
recovered never gave the tenant its server: recovery removes whatever the
site made and forgets the top records. Nothing is ever posted again.

    server.create       {top_id, site_id, project_id[, bottom_id]}
        the bottom server carries `STAMP_KEY = top_id` in its metadata; it is
        found by the noted bottom id or by the stamp among the project's
        servers changed since the entry began.
    server.create_many  {stamp, site_id, project_id[, reservation_id, top_ids]}
        every server of a min/max_count create carries the first server's
        top id as stamp until status sync gives each its own (it stamps a
        routed server whose stamp is not its top id).
    server.delete       {top_id, site_id, bottom_id, project_id[, answered]}
        the tenant was not answered: the DELETE is sent again (404 is fine)
        and the server marked deleted; `answered` (the tenant was told the
        delete failed): only what the site did is recorded.

A create whose server is not found may still be made by a POST that was on
its way when the process died: recovery looks again once a site call's
deadline (`[sites] request_timeout`) has passed since it first looked, and
only then forgets the route. A server made even later is a stamped server
without a route, which status sync removes.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from cascade import errors
from cascade.consistency import retry_unless_refused
from cascade.jobs.registry import Retry, handler
from cascade.persistence.jobs import Job
from cascade.resources.kinds import SERVER, STAMP_KEY
from cascade.runtime import Runtime

LOG = logging.getLogger(__name__)

CREATE = "server.create"
CREATE_MANY = "server.create_many"
DELETE = "server.delete"
JOURNAL_KINDS = (CREATE, CREATE_MANY, DELETE)

# a recovery waits out a site that is down rather than giving up: with the
# backoff capped at [jobs] backoff_max this spans hours
RECOVERY_ATTEMPTS = 100
CHANGES_MARGIN = dt.timedelta(minutes=5)   # the sites' clocks may differ from ours
DELETE_WAIT = 60.0                         # seconds a recovery waits in one go for a site's delete
PAGE = 1000


# ---- the top side ----------------------------------------------------------

async def mark_deleted(rt: Runtime, top_id: str, site_id: str, *, session: AsyncSession | None = None) -> None:
    """Its site took a server's delete: the route is kept as `deleting` (the
    server still shows as DELETED in changes-since lists, its actions from
    2.21 and a restore still find it), the projection says deleted, and the
    server leaves its groups, in one transaction (the caller's, with
    `session`). Idempotent."""
    async with rt.db.joined(session) as session:
        try:
            await rt.routes.set_state(SERVER.name, top_id, "deleting", site_id=site_id, session=session)
        except errors.NotFound:
            pass
        try:
            await rt.servers.mark_deleted(top_id, session=session)
        except errors.NotFound:
            pass
        await rt.server_groups.remove_member(top_id, session=session)


async def forget_created(rt: Runtime, site_id: str, top_ids: Iterable[str]) -> None:
    """Undo the top records of a create the tenant never got: group
    membership, projection row and route."""
    for top_id in top_ids:
        await rt.server_groups.remove_member(top_id)
        await rt.servers.delete(top_id)
        await rt.routes.forget(SERVER.name, top_id, site_id=site_id)


# ---- the site side ---------------------------------------------------------

def _site_time(moment: dt.datetime) -> str:
    return (moment - CHANGES_MARGIN).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def site_servers(rt: Runtime, site_id: str, project_id: str, *, since: dt.datetime,
                       stamp: str | None = None, reservation_id: str | None = None) -> list[dict]:
    """The live servers of a project in a site changed since `since` (with
    a margin), as the cascade's service account sees them: those stamped
    `stamp`, or of the reservation `reservation_id`."""
    client = rt.registry.client(site_id)
    params: dict[str, str | int] = {"all_tenants": 1, "project_id": project_id,
                                    "changes-since": _site_time(since), "limit": PAGE}
    if reservation_id is not None:
        params["reservation_id"] = reservation_id
    found: list[dict] = []
    while True:
        response = await client.service_request("compute", "GET", "/servers/detail", params=params)
        client.raise_for_error(response)
        page = response.body.get("servers") or []
        for server in page:
            if server.get("status") == "DELETED":
                continue
            if reservation_id is not None and server.get("reservation_id") not in (None, reservation_id):
                continue
            if stamp is not None and (server.get("metadata") or {}).get(STAMP_KEY) != stamp:
                continue
            found.append(server)
        if len(page) < PAGE:
            return found
        params["marker"] = page[-1]["id"]


async def delete_in_site(rt: Runtime, site_id: str, bottom_ids: Iterable[str], *,
                         wait: float = DELETE_WAIT) -> None:
    """Delete servers in a site as the service account and wait until the
    site no longer has them (a soft-deleted one is force-deleted); `Retry`
    while one is still there."""
    client = rt.registry.client(site_id)
    pending = list(dict.fromkeys(bottom_ids))
    for bottom_id in pending:
        response = await client.service_request("compute", "DELETE", f"/servers/{bottom_id}")
        if response.status not in (202, 204, 404, 409):   # 409: busy with a task; asked again below
            client.raise_for_error(response)
    deadline = time.monotonic() + wait
    while pending:
        still = []
        for bottom_id in pending:
            response = await client.service_request("compute", "GET", f"/servers/{bottom_id}")
            if response.status == 404:
                continue
            client.raise_for_error(response)
            server = response.body.get("server") or {}
            if server.get("status") == "DELETED":
                continue
            still.append(bottom_id)
            if server.get("status") == "SOFT_DELETED":   # a site that defers deletes: now, for good
                again = await client.service_request("compute", "POST", f"/servers/{bottom_id}/action",
                                                     json={"forceDelete": None})
            elif server.get("OS-EXT-STS:task_state") != "deleting":
                again = await client.service_request("compute", "DELETE", f"/servers/{bottom_id}")
            else:
                continue
            if again.status not in (202, 204, 404, 409):
                client.raise_for_error(again)
        pending = still
        if pending and time.monotonic() >= deadline:
            raise Retry(f"the site has not deleted {', '.join(pending)} yet")
        if pending:
            await asyncio.sleep(0.5)


def _site_known(rt: Runtime, site_id: str) -> bool:
    try:
        rt.registry.get(site_id)
        return True
    except errors.NotFound:
        return False


async def _look_again_after(rt: Runtime, job: Job) -> float:
    """When a POST that was on its way when the create was interrupted has
    surely landed: a site call's deadline after the recovery first looked
    (the POST was sent before that). Noted in the entry on the first look."""
    payload = dict(job.payload)
    if "look_again_after" not in payload:
        payload["look_again_after"] = time.time() + rt.settings.sites.request_timeout
        await rt.jobs.set_payload(job.id, job.lease_owner, payload)
    return float(payload["look_again_after"])


# ---- recoveries ------------------------------------------------------------

@handler(CREATE)
@retry_unless_refused
async def recover_create(rt: Runtime, job: Job) -> dict:
    top_id, site_id, project_id = job.payload["top_id"], job.payload["site_id"], job.payload["project_id"]
    if not _site_known(rt, site_id):
        await forget_created(rt, site_id, [top_id])
        return {"site": "gone"}
    found = [job.payload["bottom_id"]] if job.payload.get("bottom_id") else []
    found += [s["id"] for s in await site_servers(rt, site_id, project_id, since=job.created_at, stamp=top_id)
              if s["id"] not in found]
    if not found:
        after = await _look_again_after(rt, job)
        if time.time() < after:
            raise Retry("the interrupted create may still reach the site", delay=after - time.time())
    await delete_in_site(rt, site_id, found)
    await forget_created(rt, site_id, [top_id])
    LOG.info("recovered create of server %s: %s", top_id, f"deleted {found} in site" if found else "nothing made")
    return {"deleted": found}


@handler(CREATE_MANY)
@retry_unless_refused
async def recover_create_many(rt: Runtime, job: Job) -> dict:
    payload = job.payload
    site_id, project_id, stamp = payload["site_id"], payload["project_id"], payload["stamp"]
    top_ids = list(dict.fromkeys([stamp, *payload.get("top_ids", [])]))
    if not _site_known(rt, site_id):
        await forget_created(rt, site_id, top_ids)
        return {"site": "gone"}
    if payload.get("reservation_id"):
        made = await site_servers(rt, site_id, project_id, since=job.created_at,
                                  reservation_id=payload["reservation_id"])
    else:
        made = await site_servers(rt, site_id, project_id, since=job.created_at, stamp=stamp)
        if not made:
            after = await _look_again_after(rt, job)
            if time.time() < after:
                raise Retry("the interrupted create may still reach the site", delay=after - time.time())
    found = [s["id"] for s in made]
    await delete_in_site(rt, site_id, found)
    await forget_created(rt, site_id, top_ids)
    LOG.info("recovered create of servers %s: deleted %s in site", top_ids, found)
    return {"deleted": found}


@handler(DELETE)
@retry_unless_refused
async def recover_delete(rt: Runtime, job: Job) -> dict:
    payload = job.payload
    top_id, site_id, bottom_id = payload["top_id"], payload["site_id"], payload["bottom_id"]
    if not _site_known(rt, site_id):
        return {"site": "gone"}
    client = rt.registry.client(site_id)
    if payload.get("answered"):
        # the tenant heard the delete failed: record only what the site did
        response = await client.service_request("compute", "GET", f"/servers/{bottom_id}")
        if response.status != 404:
            client.raise_for_error(response)
            if (response.body.get("server") or {}).get("OS-EXT-STS:task_state") != "deleting":
                return {"deleted": False}
        await mark_deleted(rt, top_id, site_id)
        return {"deleted": True}
    response = await client.service_request("compute", "DELETE", f"/servers/{bottom_id}")
    if response.status == 409:
        raise Retry(f"the site cannot delete {bottom_id} now: {response.text[:200]}")
    if response.status not in (202, 204, 404):
        client.raise_for_error(response)
    await mark_deleted(rt, top_id, site_id)
    return {"deleted": True}
