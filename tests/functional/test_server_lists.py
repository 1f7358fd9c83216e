"""Fanned-out lists: pages through the cascade equal the merged union of the
sites' own lists, in order, with limit, marker, sort keys and filters."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.helpers import STAMP, boot

PER_ZONE = 3


@pytest.fixture(scope="module")
def fleet(demo, cloud):
    """PER_ZONE servers in every zone, named `<prefix>NN`; yields the prefix."""
    prefix = f"fleet-{uuid.uuid4().hex[:6]}-"
    servers = []
    for i in range(PER_ZONE * len(demo.zones)):
        servers.append(boot(demo, cloud, zone=demo.zones[i % len(demo.zones)], name=f"{prefix}{i:02d}", wait=False))
    for server in servers:
        cloud.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.5)
    yield prefix
    for server in servers:
        cloud.compute.delete_server(server)


def merged_union(demo, sites, value, *, reverse: bool, **query) -> list[str]:
    """Top ids of the sites' own lists (asked with the same filters and
    sort), merged as the cascade promises: by the sort value, ties by site
    order, then by each site's own order."""
    rows = []
    for position, zone in enumerate(demo.zones):
        for index, server in enumerate(sites[zone].compute.servers(details=True, **query)):
            if STAMP in server.metadata:
                rows.append((value(server), position, index, server.metadata[STAMP]))
    rows.sort(key=lambda row: row[1:3])
    rows.sort(key=lambda row: row[0], reverse=reverse)   # stable: ties keep site order
    return [row[3] for row in rows]


def walk(cloud, limit, **query):
    """All pages of the cascade's list, following markers."""
    seen, marker = [], None
    while True:
        page = list(cloud.compute.servers(details=True, limit=limit, marker=marker, paginated=False, **query))
        seen.extend(page)
        if len(page) < limit:
            return seen
        marker = page[-1].id


def test_pages_equal_the_merged_union_in_order(demo, cloud, sites, fleet):
    everything = [s.id for s in walk(cloud, limit=4, name=f"^{fleet}")]
    assert len(set(everything)) == len(everything) == PER_ZONE * len(demo.zones)
    assert everything == merged_union(demo, sites, lambda s: s.created_at, reverse=True, name=f"^{fleet}",
                                      sort_key="created_at", sort_dir="desc"), \
        "default order is created_at desc, then site order, then each site's order"


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_name_across_sites(demo, cloud, sites, fleet, direction):
    walked = walk(cloud, limit=2, name=f"^{fleet}", sort_key="display_name", sort_dir=direction)
    assert [s.id for s in walked] == merged_union(demo, sites, lambda s: s.name, reverse=direction == "desc",
                                                  name=f"^{fleet}", sort_key="display_name", sort_dir=direction)
    assert len(walked) == PER_ZONE * len(demo.zones)


@pytest.mark.parametrize("query", [{"status": "ACTIVE"}, {"name": "0[0-3]$"}, {"changes-since": "2020-01-01T00:00:00Z"},
                                   {"status": "SHUTOFF"}], ids=["status", "name", "changes-since", "no-match"])
def test_filters_give_what_the_sites_give(demo, cloud, sites, fleet, query):
    query = {**query, "name": f"^{fleet}{query.get('name', '')}"}
    walked = [s.id for s in walk(cloud, limit=3, sort_key="display_name", sort_dir="asc", **query)]
    assert walked == merged_union(demo, sites, lambda s: s.name, reverse=False, sort_key="display_name",
                                  sort_dir="asc", **query)


def test_filter_by_flavor_and_zone_translate_per_site(demo, cloud, fleet):
    flavor = cloud.compute.find_flavor(demo.tiny)
    by_flavor = list(cloud.compute.servers(flavor=flavor.id, name=f"^{fleet}"))
    assert len(by_flavor) == PER_ZONE * len(demo.zones)
    zone = demo.zones[-1]
    by_zone = list(cloud.compute.servers(details=True, availability_zone=zone, name=f"^{fleet}"))
    assert {s.availability_zone for s in by_zone} == {zone} and len(by_zone) == PER_ZONE


def test_next_link_points_at_the_cascade(demo, cloud, fleet):
    body = cloud.compute.get(f"/servers?limit=2&name=%5E{fleet}").json()
    assert len(body["servers"]) == 2
    (link,) = body["servers_links"]
    assert link["rel"] == "next" and link["href"].startswith(demo.url)
    assert f"marker={body['servers'][1]['id']}" in link["href"]
