"""SiteRegistry: sites in memory in step with the table, one client each,
clients kept across probes' updates and closed when their site goes."""
from __future__ import annotations

import pytest

from cascade.errors import Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.sites import SiteStore
from cascade.routing.table import RouteTable
from cascade.sites.model import Capacity, Site
from cascade.sites.registry import SiteRegistry
from tests.dbfixtures import database, module_database  # noqa: F401


class FakeClient:
    """Stands for SiteClient: holds its site value, records being closed."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class BareClient:
    """A client with no `site` attribute, closed synchronously."""

    def __init__(self, site: Site) -> None:
        self.made_for = site
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Factory:
    def __init__(self, cls=FakeClient) -> None:
        self.cls, self.made = cls, []

    def __call__(self, site: Site):
        client = self.cls(site)
        self.made.append(client)
        return client


def site_fields(n: int, **overrides):
    fields = dict(name=f"site{n}", availability_zone=f"az{n}", region_name="R", auth_url=f"http://k{n}/v3",
                  endpoints={"compute": f"http://nova{n}/v2.1"}, compute_max_version="2.79",
                  capacity=Capacity(vcpus=8, memory_mb=8192))
    fields.update(overrides)
    return fields


async def registry_with(database: Database, count: int, factory=None) -> SiteRegistry:
    registry = SiteRegistry(SiteStore(database), factory or Factory())
    for n in range(count):
        await registry.add(**site_fields(n))
    return registry


async def test_load_reads_every_site_with_one_client_each(database: Database) -> None:
    store = SiteStore(database)
    for n in (2, 0, 1):
        await store.add(**site_fields(n))
    factory = Factory()
    registry = SiteRegistry(store, factory)
    await registry.load()
    assert [s.name for s in registry.all()] == ["site2", "site0", "site1"]
    assert len(factory.made) == 3
    for site in registry.all():
        assert registry.client(site.id).site == site
    await registry.close()
    assert all(client.closed for client in factory.made)
    assert registry.all() == []


async def test_lookups(database: Database) -> None:
    registry = await registry_with(database, 2)
    first = registry.all()[0]
    assert registry.get(first.id) == first
    assert registry.by_name("site0") == first
    assert registry.by_az("az0") == first
    assert registry.by_az("nowhere") is None
    assert registry.record(first.id).last_error is None
    with pytest.raises(NotFound, match="Site nope could not be found"):
        registry.get("nope")
    with pytest.raises(NotFound):
        registry.by_name("nope")
    with pytest.raises(NotFound):
        registry.client("nope")


async def test_usable_is_enabled_and_not_down(database: Database) -> None:
    registry = await registry_with(database, 4)
    s0, s1, s2, s3 = registry.all()
    await registry.update(s1.id, state="disabled")
    await registry.update(s2.id, health="down")
    await registry.update(s3.id, health="degraded", state="enabled")
    assert [s.name for s in registry.usable()] == ["site0", "site3"]


async def test_what_is_derived_from_the_sites_is_kept_until_a_site_changes(database: Database) -> None:
    registry = await registry_with(database, 3)
    calls = []

    def count_enabled(sites):
        calls.append(len(sites))
        return sum(1 for site in sites if site.state == "enabled")

    assert registry.derived("enabled", count_enabled) == 3
    assert registry.derived("enabled", count_enabled) == 3
    assert calls == [3]
    await registry.update(registry.all()[0].id, state="disabled")
    assert registry.derived("enabled", count_enabled) == 2
    await registry.add(**site_fields(7))
    assert registry.derived("enabled", count_enabled) == 3
    assert calls == [3, 3, 4]


async def test_add_refuses_duplicates_without_making_a_client(database: Database) -> None:
    factory = Factory()
    registry = await registry_with(database, 1, factory)
    with pytest.raises(Conflict, match="Site with name site0 already exists"):
        await registry.add(**site_fields(5, name="site0"))
    with pytest.raises(Conflict):
        await registry.add(**site_fields(5, availability_zone="az0"))
    assert len(factory.made) == 1 and len(registry.all()) == 1


async def test_probe_updates_keep_the_client_and_hand_it_the_new_value(database: Database) -> None:
    factory = Factory()
    registry = await registry_with(database, 1, factory)
    site = registry.all()[0]
    client = registry.client(site.id)
    updated = await registry.update(site.id, health="up", capacity=Capacity(vcpus=8, vcpus_used=3, memory_mb=8192))
    await registry.update(site.id, compute_max_version="2.90", last_error="slow")
    assert registry.client(site.id) is client and len(factory.made) == 1 and not client.closed
    assert updated.health == "up" and updated.capacity.vcpus_used == 3
    assert client.site == registry.get(site.id)
    assert client.site.compute_max_version == "2.90"
    assert registry.record(site.id).last_error == "slow"
    # and it is in the table, for other processes and restarts
    again = SiteRegistry(SiteStore(database), Factory())
    await again.load()
    assert again.get(site.id) == registry.get(site.id)


async def test_new_endpoints_or_credentials_replace_the_client(database: Database) -> None:
    factory = Factory()
    registry = await registry_with(database, 1, factory)
    site = registry.all()[0]
    old = registry.client(site.id)
    await registry.update(site.id, endpoints={"compute": "http://elsewhere/v2.1"})
    new = registry.client(site.id)
    assert new is not old and old.closed and not new.closed
    assert new.site.endpoints == {"compute": "http://elsewhere/v2.1"}
    await registry.update(site.id, auth={"username": "x"})
    assert registry.client(site.id) is not new and new.closed


async def test_clients_without_a_site_attribute_are_replaced_on_version_changes(database: Database) -> None:
    factory = Factory(BareClient)
    registry = await registry_with(database, 1, factory)
    site = registry.all()[0]
    first = registry.client(site.id)
    await registry.update(site.id, health="down", capacity={"vcpus": 1})
    assert registry.client(site.id) is first
    await registry.update(site.id, compute_max_version="2.95")
    assert registry.client(site.id) is not first and first.closed
    assert registry.client(site.id).made_for.compute_max_version == "2.95"


async def test_async_factories_are_awaited(database: Database) -> None:
    async def factory(site: Site) -> FakeClient:
        return FakeClient(site)

    registry = await registry_with(database, 1, factory)
    assert isinstance(registry.client(registry.all()[0].id), FakeClient)


async def test_remove_is_refused_while_routes_exist_unless_forced(database: Database) -> None:
    factory = Factory()
    registry = await registry_with(database, 2, factory)
    busy, idle = registry.all()
    routes = RouteTable(database)
    top = await routes.reserve("server", site_id=busy.id, project_id="p")
    await routes.bind("server", top, busy.id, "b")
    with pytest.raises(Conflict, match="Site site0 still holds 1 routed resources"):
        await registry.remove(busy.id, routes=routes)
    assert registry.get(busy.id) == busy and not registry.client(busy.id).closed

    await registry.remove(idle.id, routes=routes)
    assert factory.made[1].closed
    with pytest.raises(NotFound):
        registry.get(idle.id)

    await registry.remove(busy.id, force=True, routes=routes)
    assert factory.made[0].closed and registry.all() == []
    assert await routes.count_for_site(busy.id) == 0
    with pytest.raises(NotFound):
        await routes.resolve("server", top)
    assert await SiteStore(database).list() == []
    with pytest.raises(NotFound):
        await registry.remove(busy.id, routes=routes)


async def test_load_again_follows_other_processes_changes(database: Database) -> None:
    factory = Factory()
    here = await registry_with(database, 3, factory)
    kept, changed, removed = here.all()
    kept_client, changed_client, removed_client = (here.client(s.id) for s in (kept, changed, removed))
    there = SiteRegistry(SiteStore(database), Factory())
    await there.load()
    await there.update(kept.id, health="down")
    await there.update(changed.id, endpoints={"compute": "http://moved/v2.1"})
    await there.remove(removed.id, routes=RouteTable(database))
    added = await there.add(**site_fields(9))

    await here.load()
    assert [s.name for s in here.all()] == ["site0", "site1", "site9"]
    assert here.get(kept.id).health == "down"
    assert here.client(kept.id) is kept_client and kept_client.site.health == "down"
    assert here.client(changed.id) is not changed_client and changed_client.closed
    assert removed_client.closed
    assert here.client(added.id).site == added
    await there.close()
    await here.close()
