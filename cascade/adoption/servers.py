"""One batch of a site's servers brought under the cascade.

`prepare` sorts a page of the site's servers: already routed (skipped; the
ones missing their stamp are to be stamped), stamped by a cascade without a
route (a leftover of an interrupted create, not ours to adopt: skipped), or
to adopt: a new top id, its flavor and image as top ids, a projection row.
`commit` writes the batch in one transaction: the routes (`bind_many`, which
skips any server routed meanwhile), the projection rows of the servers it
routed, the follow-up job that stamps them, and whatever the caller notes
(the adoption job's progress), so a batch is either wholly done or not at
all, and running it again routes nothing twice."""
from __future__ import annotations

import dataclasses
import uuid
from typing import Awaitable, Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.adoption.site_servers import stamp_of
from cascade.api.compute.dependencies import resolve_unrouted
from cascade.persistence.servers import ProjectedServer
from cascade.resources.kinds import SERVER
from cascade.runtime import Runtime
from cascade.sites.model import Site

STAMP_JOB = "site.stamp"
_GONE = {"DELETED", "SOFT_DELETED"}
# Nova changes metadata only in vm states active, paused, suspended and
# stopped: a server in one of these statuses stays unstamped until a later
# adoption run finds it routed but unstamped in a state that takes it
_UNSTAMPABLE = {"ERROR", "SHELVED", "SHELVED_OFFLOADED", "RESCUE", "VERIFY_RESIZE", *_GONE}


@dataclasses.dataclass
class Batch:
    copies: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)   # (top, bottom, project)
    rows: dict[str, ProjectedServer] = dataclasses.field(default_factory=dict)      # by bottom id
    unstamped: list[tuple[str, str]] = dataclasses.field(default_factory=list)      # routed: (top, bottom)
    unstampable: set[str] = dataclasses.field(default_factory=set)                  # bottom ids
    skipped: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Outcome:
    adopted: int
    skipped: int
    failures: tuple[str, ...]
    stamp_job: str | None
    unstamped: int             # adopted, but in a state Nova refuses metadata changes in
    users: frozenset[str]


def _reference(value) -> str | None:
    """The id of a server's flavor or image reference ("" when booted from a volume)."""
    return value.get("id") if isinstance(value, dict) else None


def _being_deleted(server: dict) -> bool:
    return server.get("status") in _GONE or server.get("OS-EXT-STS:task_state") == "deleting"


def _stampable(server: dict) -> bool:
    return server.get("status") not in _UNSTAMPABLE and server.get("OS-EXT-STS:task_state") != "deleting"


async def _top_ids(rt: Runtime, site: Site, kind: str, bottom_ids: Iterable[str]) -> dict[str, str]:
    """Top ids of a site's flavors or images; those first met here are adopted
    as the compute front adopts them when it meets them in an answer."""
    wanted = set(bottom_ids) - {None, ""}
    found = await rt.routes.top_ids(kind, site.id, wanted)
    if missing := wanted - set(found):
        found.update(await resolve_unrouted(rt, kind, site, sorted(missing)))
    return found


async def prepare(rt: Runtime, site: Site, servers: list[dict]) -> Batch:
    batch = Batch()
    routed = await rt.routes.top_ids(SERVER.name, site.id, [s["id"] for s in servers])
    candidates = []
    for server in servers:
        bottom_id = server["id"]
        if bottom_id in routed:
            batch.skipped += 1
            if stamp_of(server) is None and _stampable(server):
                batch.unstamped.append((routed[bottom_id], bottom_id))
        elif stamp_of(server) is not None or _being_deleted(server):
            batch.skipped += 1
        else:
            candidates.append(server)
    flavors = await _top_ids(rt, site, "flavor", (_reference(s.get("flavor")) for s in candidates))
    images = await _top_ids(rt, site, "image", (_reference(s.get("image")) for s in candidates))
    for server in candidates:
        flavor_id = flavors.get(_reference(server.get("flavor")) or "")
        if flavor_id is None:
            batch.failures.append(f"server {server['id']}: its flavor {_reference(server.get('flavor'))} has no "
                                  "top flavor (deleted in the site, or another shape than the cascade's flavor "
                                  "of that name)")
            continue
        top_id = str(uuid.uuid4())
        project_id = server.get("tenant_id") or server.get("project_id")
        batch.copies.append((top_id, server["id"], project_id))
        if not _stampable(server):
            batch.unstampable.add(server["id"])
        batch.rows[server["id"]] = ProjectedServer(
            top_id=top_id, site_id=site.id, project_id=project_id, user_id=server["user_id"],
            name=server.get("name") or "", status=server.get("status") or "UNKNOWN", flavor_id=flavor_id,
            created=server["created"], image_id=images.get(_reference(server.get("image")) or ""),
            task_state=server.get("OS-EXT-STS:task_state"), updated=server.get("updated"))
    return batch


async def commit(rt: Runtime, site: Site, batch: Batch, *, stamp: bool,
                 note: Callable[[AsyncSession, Outcome], Awaitable[None]]) -> Outcome:
    """Write a prepared batch and the caller's note in one transaction."""
    async with rt.db.session(writing=True) as session:
        recorded = await rt.routes.bind_many(SERVER.name, site.id, batch.copies, session=session)
        await rt.servers.upsert_many([batch.rows[bottom] for _, bottom in recorded], session=session)
        to_stamp = [[top, bottom] for top, bottom in [*recorded, *batch.unstamped]
                    if bottom not in batch.unstampable] if stamp else []
        job = None
        if to_stamp:
            job = await rt.jobs.enqueue(STAMP_JOB, {"site_id": site.id, "servers": to_stamp}, session=session)
        adopted = {bottom for _, bottom in recorded}
        outcome = Outcome(adopted=len(recorded), skipped=batch.skipped + len(batch.copies) - len(recorded),
                          failures=tuple(batch.failures), stamp_job=job.id if job else None,
                          unstamped=sum(1 for _, bottom in recorded if bottom in batch.unstampable) if stamp else 0,
                          users=frozenset(row.user_id for bottom, row in batch.rows.items() if bottom in adopted))
        await note(session, outcome)
    if job is not None and rt.worker is not None:
        rt.worker.wake()
    return outcome
