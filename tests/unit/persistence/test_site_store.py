"""SiteStore: registration order, uniqueness, updates, and removal guarded by routes."""
from __future__ import annotations

import asyncio

import pytest

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.servers import ProjectedServer, ServerProjection
from cascade.persistence.sites import SiteStore
from cascade.routing.table import RouteTable
from cascade.sites.model import Capacity
from tests.dbfixtures import database, module_database  # noqa: F401


def site_fields(n: int, **overrides):
    fields = dict(name=f"site{n}", availability_zone=f"az{n}", region_name="RegionOne",
                  auth_url=f"http://keystone{n}/v3", endpoints={"compute": f"http://nova{n}/v2.1"})
    fields.update(overrides)
    return fields


async def test_add_then_read_back_every_field(database: Database) -> None:
    store = SiteStore(database)
    added = await store.add(**site_fields(1), auth={"username": "u", "password": "p"},
                            compute_min_version="2.1", compute_max_version="2.90",
                            capacity={"vcpus": 8, "vcpus_used": 2, "memory_mb": 4096, "memory_mb_used": 0})
    fetched = await store.get(added.site.id)
    assert fetched == added
    site = fetched.site
    assert (site.name, site.availability_zone, site.region_name) == ("site1", "az1", "RegionOne")
    assert site.endpoints == {"compute": "http://nova1/v2.1"}
    assert site.auth == {"username": "u", "password": "p"}
    assert (site.state, site.health) == ("enabled", "unknown")
    assert site.compute_max_version == "2.90"
    assert site.capacity == Capacity(vcpus=8, vcpus_used=2, memory_mb=4096, memory_mb_used=0)
    assert fetched.last_error is None and fetched.created_at.tzinfo is not None
    assert (await store.get_by_name("site1")).site.id == site.id


async def test_sites_list_in_registration_order(database: Database) -> None:
    store = SiteStore(database)
    for n in (3, 1, 2):
        await store.add(**site_fields(n))
    records = await store.list()
    assert [r.site.name for r in records] == ["site3", "site1", "site2"]
    assert [r.site.position for r in records] == [1, 2, 3]


async def test_concurrent_adds_get_distinct_positions(database: Database) -> None:
    store = SiteStore(database)
    await asyncio.gather(*(store.add(**site_fields(n)) for n in range(4)))
    assert sorted(r.site.position for r in await store.list()) == [1, 2, 3, 4]


async def test_duplicate_name_or_zone_is_a_conflict(database: Database) -> None:
    store = SiteStore(database)
    await store.add(**site_fields(1))
    with pytest.raises(Conflict, match="Site with name site1 already exists"):
        await store.add(**site_fields(2, name="site1"))
    with pytest.raises(Conflict, match="Availability zone az1 is already served by site site1"):
        await store.add(**site_fields(2, availability_zone="az1"))
    assert len(await store.list()) == 1


async def test_unknown_sites_are_not_found(database: Database) -> None:
    store = SiteStore(database)
    with pytest.raises(NotFound, match="Site nope could not be found"):
        await store.get("nope")
    with pytest.raises(NotFound):
        await store.get_by_name("nope")
    with pytest.raises(NotFound):
        await store.update("nope", {"health": "up"})
    with pytest.raises(NotFound):
        await store.remove("nope")


async def test_update_changes_only_the_given_fields(database: Database) -> None:
    store = SiteStore(database)
    added = await store.add(**site_fields(1))
    updated = await store.update(added.site.id, {
        "health": "down", "last_error": "connection refused",
        "capacity": Capacity(vcpus=4, vcpus_used=4, memory_mb=1024, memory_mb_used=512)})
    assert updated.site.health == "down" and updated.last_error == "connection refused"
    assert updated.site.capacity.free_vcpus == 0
    assert updated.site.name == "site1" and updated.site.state == "enabled"
    assert updated.updated_at >= added.updated_at
    assert await store.get(added.site.id) == updated


async def test_update_validates_states_and_fields(database: Database) -> None:
    store = SiteStore(database)
    site_id = (await store.add(**site_fields(1))).site.id
    with pytest.raises(BadRequest):
        await store.update(site_id, {"state": "asleep"})
    with pytest.raises(BadRequest):
        await store.update(site_id, {"health": "great"})
    with pytest.raises(ValueError):
        await store.update(site_id, {"position": 7})
    with pytest.raises(BadRequest):
        await store.add(**site_fields(2, state="bogus"))


async def test_remove_is_refused_while_routes_point_at_the_site(database: Database) -> None:
    store = SiteStore(database)
    site_id = (await store.add(**site_fields(1))).site.id
    routes = RouteTable(database)
    top_id = await routes.reserve("server", site_id=site_id, project_id="p")
    with pytest.raises(Conflict):
        await store.remove(site_id)
    assert (await store.get(site_id)).site.id == site_id
    await routes.forget("server", top_id)
    await store.remove(site_id)
    assert await store.list() == []


async def test_remove_drops_the_sites_projected_servers(database: Database) -> None:
    store = SiteStore(database)
    gone, kept = [(await store.add(**site_fields(n))).site.id for n in (1, 2)]
    servers = ServerProjection(database)
    for n, site_id in enumerate((gone, kept)):
        await servers.upsert(ProjectedServer(top_id=f"s{n}", site_id=site_id, project_id="p", user_id="u",
                                             name="vm", status="ACTIVE", flavor_id="f",
                                             created="2024-01-01T00:00:00Z"))
    await store.remove(gone)
    assert [s.top_id for s in await servers.list_for_project("p")] == ["s1"]
    assert await servers.sites_of(["p"]) == {kept}
