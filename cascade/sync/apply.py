"""A page of a site's servers applied to the cached projection.

One page costs a fixed number of queries, whatever its size: the routes
of its bottom ids (`RouteTable.top_ids`), the projection rows they name,
the top ids of their flavors (and images, for rows not projected yet), and
one upsert of the rows that changed. Per server it may also:

- mark deleted at the top a server the site reports DELETED
  (changes-since shows servers deleted straight in the site);
- stamp a routed server with its top id once the site lets its metadata
  change (servers made by one multi-create carry no stamp of their own);
- collect stamped servers without a route, for the leftover check.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from cascade.adoption import stamping
from cascade.adoption.site_servers import reference, stamp_of
from cascade.persistence.models import utcnow
from cascade.persistence.servers import ProjectedServer, parse_timestamp
from cascade.resources.kinds import FLAVOR, IMAGE, SERVER
from cascade.sites.model import Site
from cascade.sync import gone

if TYPE_CHECKING:
    from cascade.runtime import Runtime

LOG = logging.getLogger(__name__)

DELETED = "DELETED"
# a partial record of a server in a cell of the site that is down: nothing to learn from it
UNKNOWN = "UNKNOWN"
# Nova changes metadata only in these states, and with no task under way
STAMPABLE = frozenset({"ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED"})
# what a projection row follows of its server. `updated` alone is not worth a
# write: a metadata change moves it (the top-id stamp does, on every server a
# site holds), and a rewrite of every stamped row held the writer's turn long
# enough to time creates out at 1,000,000 servers. A row written for another
# change takes the site's `updated` with it.
_FOLLOWED = ("name", "status", "task_state", "flavor_id", "deleted")


@dataclasses.dataclass
class Tally:
    """What one sync run did, kept as its job's result."""

    pages: int = 0
    servers: int = 0
    written: int = 0          # projection rows that changed
    deleted: int = 0          # servers deleted straight in the site, marked deleted at the top
    stamped: int = 0
    leftovers: int = 0        # stamped servers of interrupted creates, deleted in the site
    purged: int = 0

    def result(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Applier:
    """Applies pages of one site's servers, remembering across pages what a
    sweep needs (the routed servers listed live) and the site's latest `updated`."""

    def __init__(self, rt: "Runtime", site: Site, tally: Tally) -> None:
        self.rt, self.site, self.tally = rt, site, tally
        self.live_tops: set[str] = set()     # routed servers the site listed as not deleted
        self.unrouted_stamped: list[dict] = []
        self.latest: dt.datetime | None = None

    async def apply(self, servers: list[dict]) -> None:
        if not servers:
            return
        rt, site = self.rt, self.site
        self.tally.pages += 1
        self.tally.servers += len(servers)
        routed = await rt.routes.top_ids(SERVER.name, site.id, [s["id"] for s in servers])
        known = await rt.servers.get_many(routed.values())
        flavors = await rt.routes.top_ids(FLAVOR.name, site.id, _ids(servers, "flavor", routed))
        new = [s for s in servers if s["id"] in routed and routed[s["id"]] not in known]
        images = await rt.routes.top_ids(IMAGE.name, site.id, _ids(new, "image", routed))
        now = utcnow()
        writes: dict[str, ProjectedServer] = {}
        newly_deleted: dict[str, tuple[str, ProjectedServer]] = {}
        to_stamp: list[tuple[str, str]] = []
        for server in servers:
            self._note_updated(server.get("updated"))
            status = server.get("status")
            top_id = routed.get(server["id"])
            if top_id is not None and status != DELETED:
                self.live_tops.add(top_id)
            if top_id is None:
                if status != DELETED and stamp_of(server) is not None:
                    self.unrouted_stamped.append(server)
                continue
            row = known.get(top_id)
            projected = _projected(site, top_id, server, row, flavors, images, now)
            if projected is None:
                continue
            if projected.deleted and not (row is not None and row.deleted):
                newly_deleted[top_id] = (server["id"], projected)
                projected = dataclasses.replace(projected, deleted=False)   # marked deleted below
            if row is None or _differs(row, projected) or top_id in newly_deleted:
                writes[top_id] = projected
            if (stamp_of(server) != top_id and status in STAMPABLE and not server.get("OS-EXT-STS:task_state")
                    and not projected.deleted):
                to_stamp.append((top_id, server["id"]))
        await rt.servers.upsert_many(writes.values(), keep_deleted=True)
        self.tally.written += len(writes)
        for top_id, (bottom_id, projected) in newly_deleted.items():
            await gone.mark_deleted(rt, site, top_id, bottom_id)
            await rt.servers.upsert(dataclasses.replace(projected, deleted=True))
            self.tally.deleted += 1
        await self._stamp(to_stamp)

    async def _stamp(self, servers: list[tuple[str, str]]) -> None:
        """Stamp routed servers that lack their own top id, but those an
        unfinished job names (an adoption's stamp job, a create's recovery)."""
        if not servers:
            return
        busy = await self.rt.jobs.live_mentioning({bottom for _, bottom in servers}, except_kinds=gone.WATCHING_KINDS)
        outcome = await stamping.stamp(self.rt.registry.client(self.site.id),
                                       [[top, bottom] for top, bottom in servers if bottom not in busy])
        self.tally.stamped += outcome.stamped
        if outcome.refused:
            LOG.warning("site %s refused stamps: %s", self.site.name, "; ".join(outcome.refused[:5]))

    async def remove_leftovers(self, *, grace: float) -> None:
        """The stamped servers without a route met so far that are older than
        `grace` seconds (a create may still be binding its route)."""
        cutoff = utcnow() - dt.timedelta(seconds=grace)
        old = [s for s in self.unrouted_stamped if _created_before(s, cutoff)]
        self.unrouted_stamped = []
        if old:
            self.tally.leftovers += await gone.remove_leftovers(self.rt, self.site, old)

    def _note_updated(self, text: Any) -> None:
        if not isinstance(text, str):
            return
        try:
            moment = parse_timestamp(text)
        except ValueError:
            return
        if self.latest is None or moment > self.latest:
            self.latest = moment


def _ids(servers: list[dict], field: str, routed: dict[str, str]) -> set[str]:
    return {ref for s in servers if s["id"] in routed and (ref := reference(s, field))}


def _created_before(server: dict, cutoff: dt.datetime) -> bool:
    try:
        return parse_timestamp(server["created"]) < cutoff
    except (KeyError, TypeError, ValueError):
        return False


def _projected(site: Site, top_id: str, server: dict, row: ProjectedServer | None, flavors: dict[str, str],
               images: dict[str, str], now: dt.datetime) -> ProjectedServer | None:
    """The projection row of a routed server as its site shows it now."""
    status = server.get("status")
    if not isinstance(status, str) or status == UNKNOWN:
        return None
    flavor_id = flavors.get(reference(server, "flavor") or "") or (row.flavor_id if row else "")
    if row is None:
        row = ProjectedServer(
            top_id=top_id, site_id=site.id, project_id=server.get("tenant_id") or "",
            user_id=server.get("user_id") or "", name=server.get("name") or "", status=status,
            flavor_id=flavor_id, created=server.get("created") or now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            image_id=images.get(reference(server, "image") or ""))
    return dataclasses.replace(
        row, site_id=site.id, name=server.get("name", row.name) or "", status=status,
        task_state=server.get("OS-EXT-STS:task_state"), updated=server.get("updated") or row.updated,
        flavor_id=flavor_id, deleted=row.deleted or status == DELETED, synced_at=now)


def _differs(row: ProjectedServer, projected: ProjectedServer) -> bool:
    return any(getattr(row, name) != getattr(projected, name) for name in _FOLLOWED)
