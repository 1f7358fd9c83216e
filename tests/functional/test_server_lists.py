"""Fanned-out lists: pages through the cascade equal the merged union of the
sites' own lists, in order, with limit, marker, sort keys and filters."""
from __future__ import annotations

import pytest

from tests.functional.helpers import STAMP, boot


@pytest.fixture(scope="module")
def fleet(cloud):
    servers = []
    for i in range(9):
        servers.append(boot(cloud, zone=f"site{i % 3 + 1}", name=f"fleet-{i:02d}", wait=False))
    for server in servers:
        cloud.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.3)
    yield servers
    for server in servers:
        cloud.compute.delete_server(server)


def union_of_sites(sites, **query):
    """Every cascade server in the sites, as top ids, with its site order."""
    rows = []
    for position, (zone, conn) in enumerate(sorted(sites.items())):
        for server in conn.compute.servers(details=True, **query):
            if STAMP in server.metadata:
                rows.append((server, position))
    return rows


def walk(cloud, limit, **query):
    """All pages of the cascade's list, following markers."""
    seen, marker = [], None
    while True:
        page = list(cloud.compute.servers(details=True, limit=limit, marker=marker, paginated=False, **query))
        seen.extend(page)
        if len(page) < limit:
            return seen
        marker = page[-1].id


def test_pages_equal_the_merged_union_in_order(cloud, sites, fleet):
    everything = walk(cloud, limit=4, name="^fleet-")
    union = union_of_sites(sites, name="^fleet-")
    assert sorted(s.id for s in everything) == sorted(s.metadata[STAMP] for s, _ in union)
    assert len({s.id for s in everything}) == len(everything) == 9
    position = {s.metadata[STAMP]: p for s, p in union}
    keys = [(s.created_at, -position[s.id]) for s in everything]
    assert keys == sorted(keys, reverse=True), "default order is created_at desc, then site order"


def test_sort_by_name_ascending_across_sites(cloud, fleet):
    names = [s.name for s in walk(cloud, limit=2, name="^fleet-", sort_key="display_name", sort_dir="asc")]
    assert names == sorted(names) and len(names) == 9


def test_filter_by_flavor_and_zone_translate_per_site(cloud, fleet):
    flavor = cloud.compute.find_flavor("m1.tiny")
    by_flavor = list(cloud.compute.servers(flavor=flavor.id, name="^fleet-"))
    assert len(by_flavor) == 9
    by_zone = list(cloud.compute.servers(details=True, availability_zone="site2", name="^fleet-"))
    assert {s.availability_zone for s in by_zone} == {"site2"} and len(by_zone) == 3


def test_next_link_points_at_the_cascade(demo, cloud, fleet):
    body = cloud.compute.get("/servers?limit=2&name=%5Efleet-").json()
    assert len(body["servers"]) == 2
    (link,) = body["servers_links"]
    assert link["rel"] == "next" and link["href"].startswith(demo.url)
    assert f"marker={body['servers'][1]['id']}" in link["href"]


def test_bad_marker_is_nova_400(cloud):
    response = cloud.compute.get("/servers?marker=00000000-0000-0000-0000-000000000000")
    assert response.status_code == 400
    assert "marker [00000000-0000-0000-0000-000000000000] not found" in response.json()["badRequest"]["message"]
