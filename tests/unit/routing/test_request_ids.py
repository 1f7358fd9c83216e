"""routing.request_ids: the tenant's request ids paired with the sites' in
the route table, translated both ways, per site."""
from __future__ import annotations

from cascade.persistence.db import Database
from cascade.routing import request_ids
from cascade.routing.table import RouteTable
from tests.dbfixtures import database, module_database  # noqa: F401
from tests.unit.routing.test_table import add_sites


async def test_pairs_translate_both_ways_per_site(database: Database) -> None:
    a, b = await add_sites(database, 2)
    routes = RouteTable(database)
    await request_ids.remember(routes, top_id="req-top-1", site_id=a, project_id="p",
                               headers={"x-openstack-request-id": "req-site-1"})
    await request_ids.remember(routes, top_id="req-top-2", site_id=a, project_id="p",
                               headers={"x-compute-request-id": "req-site-2"})
    assert await request_ids.to_site(routes, a, "req-top-1") == "req-site-1"
    assert await request_ids.to_top(routes, a, ["req-site-2", "req-site-1", "req-made-at-site"]) == {
        "req-site-2": "req-top-2", "req-site-1": "req-top-1", "req-made-at-site": "req-made-at-site"}
    # another site knows nothing of these pairs: ids stay as given
    assert await request_ids.to_site(routes, b, "req-top-1") == "req-top-1"
    assert await request_ids.to_top(routes, b, ["req-site-1"]) == {"req-site-1": "req-site-1"}


async def test_answers_without_an_id_or_pairs_twice_change_nothing(database: Database) -> None:
    (a,) = await add_sites(database, 1)
    routes = RouteTable(database)
    await request_ids.remember(routes, top_id="req-top", site_id=a, project_id="p", headers={})
    assert await request_ids.to_site(routes, a, "req-top") == "req-top"
    await request_ids.remember(routes, top_id="req-top", site_id=a, project_id="p",
                               headers={"x-openstack-request-id": "req-first"})
    await request_ids.remember(routes, top_id="req-top", site_id=a, project_id="p",
                               headers={"x-openstack-request-id": "req-second"})
    assert await request_ids.to_site(routes, a, "req-top") == "req-first"
    # a site that gives an id it gave before keeps its first pairing
    await request_ids.remember(routes, top_id="req-other", site_id=a, project_id="p",
                               headers={"x-openstack-request-id": "req-first"})
    assert await request_ids.to_top(routes, a, ["req-first"]) == {"req-first": "req-top"}
    assert await request_ids.to_site(routes, a, "req-other") == "req-other"
