"""RouteTable: reserve/bind/resolve/forget on real databases, batch lookups,
and the in-process cache never serving a route that is gone."""
from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from sqlalchemy import insert

from cascade.errors import Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import RouteRow, utcnow
from cascade.persistence.sites import SiteStore
from cascade.routing.table import CHUNK, Route, RouteTable, _LRU
from tests.dbfixtures import database, module_database  # noqa: F401


async def add_sites(db: Database, count: int) -> list[str]:
    store = SiteStore(db)
    return [(await store.add(name=f"s{n}", availability_zone=f"az{n}", region_name="R",
                             auth_url="http://k/v3", endpoints={})).site.id for n in range(count)]


class WrappedDatabase:
    """A stand-in Database over a real one, whose `session` a test overrides."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def session(self, **options):
        return self.db.session(**options)

    @contextlib.asynccontextmanager
    async def joined(self, session):
        if session is not None:
            yield session
            return
        async with self.session() as own:
            yield own

    @property
    def dialect(self):
        return self.db.dialect


class CountingDatabase(WrappedDatabase):
    """A Database whose sessions and reads are counted, to see what the cache spares."""

    def __init__(self, db: Database) -> None:
        self.db, self.sessions = db, 0

    def session(self):
        self.sessions += 1
        return self.db.session()

    async def read(self, work):
        self.sessions += 1
        return await self.db.read(work)


async def test_reserve_bind_resolve(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    routes = RouteTable(database)
    top_id = await routes.reserve("server", site_id=site, project_id="p1")
    assert uuid.UUID(top_id).version == 4
    assert await routes.resolve("server", top_id) == Route("server", top_id, site, None, "p1", "reserved")
    await routes.bind("server", top_id, site, "bottom-1")
    assert await routes.resolve("server", top_id, site_id=site) == Route("server", top_id, site, "bottom-1", "p1", "bound")


async def test_reserve_with_a_given_top_id_and_its_conflicts(database: Database) -> None:
    a, b = await add_sites(database, 2)
    routes = RouteTable(database)
    assert await routes.reserve("flavor", site_id=a, project_id=None, top_id="m1") == "m1"
    assert await routes.reserve("flavor", site_id=b, project_id=None, top_id="m1") == "m1"
    with pytest.raises(Conflict):
        await routes.reserve("flavor", site_id=a, project_id=None, top_id="m1")
    # the same top id is another resource under another kind
    assert await routes.reserve("image", site_id=a, project_id=None, top_id="m1") == "m1"
    with pytest.raises(NotFound, match="Site nowhere could not be found"):
        await routes.reserve("flavor", site_id="nowhere", project_id=None)


async def test_bind_errors(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    routes = RouteTable(database)
    with pytest.raises(NotFound):
        await routes.bind("server", "missing", site, "b")
    first = await routes.reserve("server", site_id=site, project_id="p")
    second = await routes.reserve("server", site_id=site, project_id="p")
    await routes.bind("server", first, site, "b1")
    with pytest.raises(Conflict):
        await routes.bind("server", second, site, "b1")
    assert (await routes.resolve("server", second)).state == "reserved"


async def test_resolve_prefers_bound_routes_in_site_order(database: Database) -> None:
    a, b, c = await add_sites(database, 3)
    routes = RouteTable(database)
    for site in (c, b, a):
        await routes.reserve("image", site_id=site, project_id=None, top_id="img")
    assert (await routes.resolve("image", "img")).site_id == a     # none bound: first site
    await routes.bind("image", "img", c, "in-c")
    await routes.bind("image", "img", b, "in-b")
    assert (await routes.resolve("image", "img")).site_id == b     # first bound site
    assert [r.site_id for r in await routes.routes_of("image", "img")] == [a, b, c]
    assert await routes.routes_of("image", "other") == []
    with pytest.raises(NotFound, match="No route for image other") as caught:
        await routes.resolve("image", "other")
    assert (caught.value.kind, caught.value.resource_id) == ("image", "other")
    with pytest.raises(NotFound):
        await routes.resolve("image", "img", site_id="elsewhere")


async def test_batch_lookups_translate_only_routed_copies(database: Database) -> None:
    a, b = await add_sites(database, 2)
    routes = RouteTable(database)
    tops = [await routes.reserve("server", site_id=a, project_id="p") for _ in range(3)]
    for n, top in enumerate(tops[:2]):
        await routes.bind("server", top, a, f"bottom-{n}")
    assert await routes.top_ids("server", a, ["bottom-0", "bottom-1", "stranger", "bottom-0"]) == {
        "bottom-0": tops[0], "bottom-1": tops[1]}
    assert await routes.bottom_ids("server", a, tops) == {tops[0]: "bottom-0", tops[1]: "bottom-1"}
    assert await routes.top_ids("server", b, ["bottom-0"]) == {}
    assert await routes.top_ids("volume", a, ["bottom-0"]) == {}
    assert await routes.top_ids("server", a, []) == {}


async def test_batch_lookups_of_many_ids_in_one_call(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    count = CHUNK * 2 + 7
    now = utcnow()
    async with database.session() as session:
        await session.execute(insert(RouteRow), [
            dict(kind="port", top_id=f"t{n}", site_id=site, bottom_id=f"b{n}", project_id="p", state="bound",
                 created_at=now, updated_at=now) for n in range(count)])
    routes = RouteTable(database)
    wanted = [f"b{n}" for n in range(count)] + ["nope"]
    found = await routes.top_ids("port", site, wanted)
    assert len(found) == count and found["b0"] == "t0" and found[f"b{count - 1}"] == f"t{count - 1}"
    assert len(await routes.bottom_ids("port", site, [f"t{n}" for n in range(count)])) == count


async def test_set_state_and_forget(database: Database) -> None:
    a, b = await add_sites(database, 2)
    routes = RouteTable(database)
    for site in (a, b):
        await routes.reserve("volume", site_id=site, project_id="p", top_id="v")
        await routes.bind("volume", "v", site, f"v-{site}")
    await routes.set_state("volume", "v", "deleting", site_id=a)
    assert [(r.site_id, r.state) for r in await routes.routes_of("volume", "v")] == [(a, "deleting"), (b, "bound")]
    # a copy being deleted still translates, so it stays visible until it is gone
    assert await routes.top_ids("volume", a, [f"v-{a}"]) == {f"v-{a}": "v"}
    await routes.set_state("volume", "v", "deleting")
    assert {r.state for r in await routes.routes_of("volume", "v")} == {"deleting"}
    with pytest.raises(NotFound):
        await routes.set_state("volume", "nope", "bound")
    with pytest.raises(ValueError):
        await routes.set_state("volume", "v", "sleeping")
    await routes.forget("volume", "v", site_id=a)
    assert [r.site_id for r in await routes.routes_of("volume", "v")] == [b]
    await routes.forget("volume", "v")
    await routes.forget("volume", "v")  # nothing left: no error
    assert await routes.routes_of("volume", "v") == []


async def test_counts_and_forgetting_a_whole_site(database: Database) -> None:
    a, b = await add_sites(database, 2)
    routes = RouteTable(database)
    for n in range(3):
        top = await routes.reserve("server", site_id=a, project_id="p")
        await routes.bind("server", top, a, f"b{n}")
    await routes.reserve("server", site_id=b, project_id="p")
    assert (await routes.count_for_site(a), await routes.count_for_site(b)) == (3, 1)
    cached = await routes.top_ids("server", a, ["b0"])
    assert cached
    assert await routes.forget_site(a) == 3
    assert await routes.count_for_site(a) == 0
    assert await routes.top_ids("server", a, ["b0"]) == {}


async def test_hot_lookups_are_served_from_the_cache(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    counting = CountingDatabase(database)
    routes = RouteTable(counting)  # type: ignore[arg-type]
    top = await routes.reserve("server", site_id=site, project_id="p")
    await routes.bind("server", top, site, "b")
    await routes.resolve("server", top)
    await routes.top_ids("server", site, ["b"])
    before = counting.sessions
    for _ in range(3):
        assert (await routes.resolve("server", top)).bottom_id == "b"
        assert (await routes.resolve("server", top, site_id=site)).bottom_id == "b"
        assert await routes.top_ids("server", site, ["b"]) == {"b": top}
        assert await routes.bottom_ids("server", site, [top]) == {top: "b"}
    assert counting.sessions == before


async def test_reserved_routes_are_not_cached(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    routes = RouteTable(database)
    top = await routes.reserve("server", site_id=site, project_id="p")
    assert (await routes.resolve("server", top)).state == "reserved"
    await routes.bind("server", top, site, "b")
    assert (await routes.resolve("server", top)).state == "bound"


async def test_writes_drop_what_the_cache_held(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    routes = RouteTable(database)
    top = await routes.reserve("server", site_id=site, project_id="p")
    await routes.bind("server", top, site, "old")
    assert await routes.top_ids("server", site, ["old"]) == {"old": top}
    await routes.resolve("server", top)
    # a rebind (the copy was replaced in its site) retires the old bottom id
    await routes.bind("server", top, site, "new")
    assert await routes.top_ids("server", site, ["old"]) == {}
    assert (await routes.resolve("server", top)).bottom_id == "new"
    await routes.set_state("server", top, "deleting")
    assert (await routes.resolve("server", top)).state == "deleting"
    await routes.forget("server", top)
    with pytest.raises(NotFound):
        await routes.resolve("server", top)
    with pytest.raises(NotFound):
        await routes.resolve("server", top, site_id=site)
    assert await routes.top_ids("server", site, ["new"]) == {}
    assert await routes.bottom_ids("server", site, [top]) == {}


class PausingDatabase(WrappedDatabase):
    """Holds a session's or a read's end until released: a read that raced a write."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.read_done = asyncio.Event()
        self.release = asyncio.Event()
        self.armed = False

    @contextlib.asynccontextmanager
    async def session(self):
        armed, self.armed = self.armed, False
        async with self.db.session() as session:
            yield session
        if armed:
            self.read_done.set()
            await self.release.wait()

    async def read(self, work):
        armed, self.armed = self.armed, False
        result = await self.db.read(work)
        if armed:
            self.read_done.set()
            await self.release.wait()
        return result


async def test_a_read_racing_a_forget_does_not_cache_the_forgotten_route(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    pausing = PausingDatabase(database)
    routes = RouteTable(pausing)  # type: ignore[arg-type]
    top = await routes.reserve("server", site_id=site, project_id="p")
    await routes.bind("server", top, site, "b")
    pausing.armed = True
    reader = asyncio.create_task(routes.resolve("server", top))
    await pausing.read_done.wait()          # the reader has the bound route in hand
    await routes.forget("server", top)      # ... when the route goes away
    pausing.release.set()
    assert (await reader).bottom_id == "b"  # what it read was true when read
    with pytest.raises(NotFound):
        await routes.resolve("server", top)
    assert await routes.top_ids("server", site, ["b"]) == {}


async def test_another_processs_forget_is_seen_after_the_cache_ttl(database: Database) -> None:
    (site,) = await add_sites(database, 1)
    now = [0.0]
    here = RouteTable(database, cache_ttl=30.0, clock=lambda: now[0])
    there = RouteTable(database)
    top = await here.reserve("server", site_id=site, project_id="p")
    await here.bind("server", top, site, "b")
    await here.resolve("server", top)
    await there.forget("server", top)
    now[0] = 10.0
    assert (await here.resolve("server", top)).bottom_id == "b"   # still cached: the bounded staleness
    now[0] = 31.0
    with pytest.raises(NotFound):
        await here.resolve("server", top)


def test_lru_evicts_the_least_recently_used_and_expires() -> None:
    now = [0.0]
    lru: _LRU[str, int] = _LRU(2, ttl=5.0, clock=lambda: now[0])
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1      # "a" is now the most recent
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    assert len(lru) == 2
    now[0] = 5.0
    assert lru.get("a") is None and len(lru) == 1
