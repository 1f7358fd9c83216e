"""The site registry: the registered sites held in memory, each with its one
client, kept in step with the `sites` table.

Fronts, fan-out and placement read sites from here (no database round trip on
a request); operators' changes and health probes go through `add`, `update`
and `remove`, which write the table first and then swap the in-memory value.
A site's client is made by the factory given at construction and lives as
long as the site's connection settings (auth URL, credentials, endpoints):
other changes (health and capacity on every probe, state, versions) keep the
client and its pool, and are handed to it as its new `site` value when it has
one; a client without a `site` attribute is replaced when anything but state,
health, capacity or last error changes.
"""
from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from typing import Any, Awaitable, Callable, Hashable, Mapping

from cascade.errors import Conflict, NotFound
from cascade.persistence.sites import SiteRecord, SiteStore
from cascade.routing.table import RouteTable
from cascade.sites.model import ENABLED, UNKNOWN, Capacity, Site

LOG = logging.getLogger(__name__)

ClientFactory = Callable[[Site], Any]

def _same_connection(old: Site, new: Site) -> bool:
    """True when a client made for `old` can go on serving `new`."""
    return (old.auth_url, old.auth, old.endpoints) == (new.auth_url, new.auth, new.endpoints)


def _same_for_any_client(old: Site, new: Site) -> bool:
    """True when `new` differs from `old` only in what no client reads."""
    blank = {"state": ENABLED, "health": UNKNOWN, "capacity": Capacity()}
    return dataclasses.replace(old, **blank) == dataclasses.replace(new, **blank)


def _site_not_found(key: str) -> NotFound:
    return NotFound(f"Site {key} could not be found.", kind="site", resource_id=key)


class SiteRegistry:
    def __init__(self, store: SiteStore, client_factory: ClientFactory) -> None:
        self._store = store
        self._factory = client_factory
        self._records: dict[str, SiteRecord] = {}
        self._clients: dict[str, Any] = {}
        self._ordered: list[Site] = []
        self._derived: dict[Hashable, Any] = {}
        # add, update and remove run one at a time, so a client is never made twice for a site
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read the table (at start-up, or again to see other processes' changes),
        making clients for new sites and closing those of removed ones."""
        async with self._lock:
            records = await self._store.list()
            fresh = {record.site.id: record for record in records}
            stale: list[Any] = []
            clients: dict[str, Any] = {}
            for site_id, record in fresh.items():
                old = self._records.get(site_id)
                if old is None:
                    clients[site_id] = await self._make_client(record.site)
                    continue
                clients[site_id], replaced = await self._renew_client(self._clients[site_id], old.site, record.site)
                if replaced is not None:
                    stale.append(replaced)
            stale.extend(client for site_id, client in self._clients.items() if site_id not in fresh)
            self._records, self._clients = fresh, clients
            self._reorder()
        await self._close_clients(stale)

    def all(self) -> list[Site]:
        """Every site, in registration order."""
        return list(self._ordered)

    def get(self, site_id: str) -> Site:
        record = self._records.get(site_id)
        if record is None:
            raise _site_not_found(site_id)
        return record.site

    def record(self, site_id: str) -> SiteRecord:
        """The site with its bookkeeping (last error, timestamps), for operators."""
        record = self._records.get(site_id)
        if record is None:
            raise _site_not_found(site_id)
        return record

    def by_name(self, name: str) -> Site:
        for site in self._ordered:
            if site.name == name:
                return site
        raise _site_not_found(name)

    def by_az(self, availability_zone: str) -> Site | None:
        for site in self._ordered:
            if site.availability_zone == availability_zone:
                return site
        return None

    def client(self, site_id: str) -> Any:
        client = self._clients.get(site_id)
        if client is None:
            raise _site_not_found(site_id)
        return client

    def usable(self) -> list[Site]:
        """Sites that take new work: enabled and not down, in registration order."""
        return [site for site in self._ordered if site.accepts_placements]

    async def add(
        self, *, name: str, availability_zone: str, region_name: str, auth_url: str,
        endpoints: Mapping[str, str], auth: Mapping[str, Any] | None = None,
        compute_min_version: str = "2.1", compute_max_version: str = "2.1",
        capacity: Capacity | Mapping[str, int] | None = None,
        state: str = ENABLED, health: str = UNKNOWN,
    ) -> Site:
        """Register a site. Conflict when its name or availability zone is taken."""
        async with self._lock:
            record = await self._store.add(
                name=name, availability_zone=availability_zone, region_name=region_name, auth_url=auth_url,
                endpoints=endpoints, auth=auth, state=state, health=health,
                compute_min_version=compute_min_version, compute_max_version=compute_max_version,
                capacity=capacity)
            site_id = record.site.id
            self._clients[site_id] = await self._make_client(record.site)
            self._records[site_id] = record
            self._reorder()
            return record.site

    def shares(self) -> dict[str, float]:
        """Each site's part of its full share of new placements: below 1
        while it ramps up after an outage (its breaker's view, per process)."""
        return {site_id: client.breaker.share() for site_id, client in self._clients.items()
                if client.breaker.share() < 1.0}

    async def update(self, site_id: str, **fields: Any) -> Site:
        """Change a site (state, health, capacity, versions, endpoints,
        last_error, ...). Only new endpoints or credentials replace its client."""
        async with self._lock:
            if site_id not in self._records:
                raise _site_not_found(site_id)
            record = await self._store.update(site_id, fields)
            old = self._records[site_id]
            self._clients[site_id], stale = await self._renew_client(self._clients[site_id], old.site, record.site)
            self._records[site_id] = record
            self._reorder()
        if stale is not None:
            await self._close_clients([stale])
        return record.site

    def claim(self, site_id: str, *, vcpus: int, memory_mb: int) -> None:
        """Count a placement against the site's capacity in this process's
        view at once, so that the next placements weigh it; nothing is
        written (a write per create, under the registry's lock, made every
        create wait for the one before): the site's next probe stores the
        real figures."""
        record = self._records.get(site_id)
        if record is None:
            return
        capacity = record.site.capacity
        claimed = dataclasses.replace(capacity, vcpus_used=capacity.vcpus_used + vcpus,
                                      memory_mb_used=capacity.memory_mb_used + memory_mb)
        self._records[site_id] = dataclasses.replace(record, site=dataclasses.replace(record.site, capacity=claimed))
        self._reorder()

    async def remove(self, site_id: str, *, force: bool = False, routes: RouteTable) -> None:
        """Unregister a site. Refused (Conflict) while routes point into it,
        unless `force`, which forgets those routes: their resources are then
        no longer reachable through the cascade."""
        async with self._lock:
            site = self.get(site_id)
            count = await routes.count_for_site(site_id)
            if count and not force:
                raise Conflict(f"Site {site.name} still holds {count} routed resources; "
                               "drain it first, or remove it with force.")
            if count:
                forgotten = await routes.forget_site(site_id)
                LOG.warning("forced removal of site %s forgot %d routes", site.name, forgotten)
            await self._store.remove(site_id)
            del self._records[site_id]
            client = self._clients.pop(site_id)
            self._reorder()
        await self._close_clients([client])

    async def close(self) -> None:
        """Close every client; the registry is empty afterwards."""
        async with self._lock:
            clients = list(self._clients.values())
            self._records, self._clients, self._ordered = {}, {}, []
        await self._close_clients(clients)

    async def _renew_client(self, client: Any, old: Site, new: Site) -> tuple[Any, Any]:
        """The client to serve `new`, and the one to close (or None)."""
        if old == new:
            return client, None
        if _same_connection(old, new):
            if hasattr(client, "site"):
                client.site = new
                return client, None
            if _same_for_any_client(old, new):
                return client, None
        return await self._make_client(new), client

    async def _make_client(self, site: Site) -> Any:
        client = self._factory(site)
        if inspect.isawaitable(client):
            client = await client
        return client

    def _reorder(self) -> None:
        self._ordered = sorted((record.site for record in self._records.values()), key=lambda s: s.position)
        self._derived.clear()

    def derived(self, key: Hashable, compute: Callable[[list[Site]], Any]) -> Any:
        """`compute(sites)` in registration order, kept until a site changes:
        for what every request reads of all the sites (the microversion range)."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = compute(self.all())
            return value

    @staticmethod
    async def _close_clients(clients: list[Any]) -> None:
        results = await asyncio.gather(*(_close(client) for client in clients), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                LOG.warning("closing a site client failed: %s", result)


async def _close(client: Any) -> None:
    close: Callable[[], Awaitable[None] | None] | None = getattr(client, "close", None)
    if close is None:
        return
    outcome = close()
    if inspect.isawaitable(outcome):
        await outcome
