"""RouteTable.bind_many: many bound routes in one statement, copies already
routed skipped, joined to the caller's transaction (rolled back with it),
and the lookup cache never keeps what it wrote unseen."""
from __future__ import annotations

import uuid

import pytest

from cascade.persistence.db import Database
from cascade.persistence.sites import SiteStore
from cascade.routing.table import CHUNK, RouteTable
from tests.dbfixtures import database, module_database  # noqa: F401


async def a_site(db: Database) -> str:
    return (await SiteStore(db).add(name="s", availability_zone="az", region_name="R", auth_url="http://k/v3",
                                    endpoints={})).site.id


def copies(count: int, prefix: str = "b") -> list[tuple[str, str, str]]:
    return [(str(uuid.uuid4()), f"{prefix}{n}", "p1") for n in range(count)]


async def test_many_routes_in_chunks_and_each_copy_once(database: Database) -> None:
    site = await a_site(database)
    routes = RouteTable(database)
    first = copies(CHUNK + 7)
    assert len(await routes.bind_many("server", site, first)) == CHUNK + 7
    again = [(str(uuid.uuid4()), bottom, project) for _, bottom, project in first[:5]] + copies(2, prefix="new")
    recorded = await routes.bind_many("server", site, again)
    assert [bottom for _, bottom in recorded] == ["new0", "new1"]
    assert await routes.count_for_site(site) == CHUNK + 9
    top, bottom, _ = first[3]
    route = await routes.resolve("server", top, site_id=site)
    assert (route.bottom_id, route.state, route.project_id) == (bottom, "bound", "p1")


async def test_rolled_back_with_the_callers_transaction(database: Database) -> None:
    site = await a_site(database)
    routes = RouteTable(database)
    batch = copies(3)
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            assert len(await routes.bind_many("server", site, batch, session=session)) == 3
            raise RuntimeError("the batch failed after its routes were written")
    assert await routes.top_ids("server", site, [b for _, b, _ in batch]) == {}
    assert len(await routes.bind_many("server", site, batch)) == 3
    assert await routes.top_ids("server", site, ["b0"]) == {"b0": batch[0][0]}


async def test_a_bottom_id_forgotten_then_adopted_again_is_not_served_stale(database: Database) -> None:
    site = await a_site(database)
    routes = RouteTable(database)
    (old_top, bottom, _), = copies(1)
    await routes.bind_many("server", site, [(old_top, bottom, "p1")])
    assert await routes.top_ids("server", site, [bottom]) == {bottom: old_top}   # cached now
    await routes.forget("server", old_top)
    new_top = str(uuid.uuid4())
    await routes.bind_many("server", site, [(new_top, bottom, "p1")])
    assert await routes.top_ids("server", site, [bottom]) == {bottom: new_top}
