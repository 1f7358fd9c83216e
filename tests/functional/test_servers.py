"""Server create, show, update and delete through the cascade, checked in the sites."""
from __future__ import annotations

import openstack
import pytest

from tests.functional.conftest import wait_for
from tests.functional.helpers import STAMP, boot, bottom_copy
from tests.leakcheck import assert_no_leak


@pytest.mark.parametrize("zone", ["site1", "site2", "site3"])
def test_create_in_each_zone_lands_in_that_site(cloud, sites, zone):
    server = boot(cloud, zone=zone)
    assert server.availability_zone == zone
    where, bottom = bottom_copy(sites, server.id)
    assert where == zone
    assert bottom.id != server.id, "the top id must not be the site's id"
    assert bottom.status == "ACTIVE"
    assert STAMP not in server.metadata
    cloud.compute.delete_server(server)
    cloud.compute.wait_for_delete(server, wait=30, interval=0.3)
    assert wait_for(lambda: bottom_copy(sites, server.id) == (None, None))


def test_scheduler_places_and_spreads_by_free_ram(cloud, sites):
    servers = [boot(cloud, wait=False) for _ in range(3)]
    zones = set()
    for server in servers:
        server = cloud.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.3)
        where, _ = bottom_copy(sites, server.id)
        assert where == server.availability_zone
        zones.add(where)
    assert len(zones) >= 2, "the scheduler should spread servers over sites by free RAM"
    for server in servers:
        cloud.compute.delete_server(server)


def test_show_update_and_answers_hold_no_site_detail(demo, cloud, sites):
    server = boot(cloud, zone="site2", metadata={"role": "web"})
    updated = cloud.compute.update_server(server, name="renamed")
    assert updated.name == "renamed"
    _, bottom = bottom_copy(sites, server.id)
    assert bottom.name == "renamed"
    raw = cloud.compute.get(f"/servers/{server.id}", microversion="2.1").json()
    assert raw["server"]["id"] == server.id
    assert raw["server"]["metadata"] == {"role": "web"}
    assert raw["server"]["image"]["id"] != bottom.image["id"]
    assert raw["server"]["flavor"]["id"] != bottom.flavor["id"]
    forbidden = demo.site_urls() + [bottom.id, bottom.image["id"], bottom.flavor["id"]]
    assert_no_leak(raw, forbidden)
    detail = cloud.compute.get("/servers/detail", microversion="2.96").json()
    assert_no_leak(detail, demo.site_urls() + [bottom.id])
    for link in raw["server"]["links"]:
        assert link["href"].startswith(demo.url)
    cloud.compute.delete_server(server)


def test_delete_removes_the_bottom_server(cloud, sites):
    server = boot(cloud, zone="site3")
    cloud.compute.delete_server(server)
    cloud.compute.wait_for_delete(server, wait=30, interval=0.3)
    with pytest.raises(openstack.exceptions.NotFoundException):
        cloud.compute.get_server(server.id)
    assert wait_for(lambda: bottom_copy(sites, server.id) == (None, None))


def test_multiple_create_gives_every_server_a_top_id(cloud, sites):
    from tests.functional.helpers import flavor_id, image_id
    response = cloud.compute.post("/servers", json={"server": {
        "name": "multi", "flavorRef": flavor_id(cloud), "imageRef": image_id(cloud), "networks": "none",
        "min_count": 2, "max_count": 2, "availability_zone": "site1"}}, microversion="2.37")
    assert response.status_code == 202, response.text
    made = [s for s in cloud.compute.servers(details=True, name="^multi")]
    assert len(made) == 2 and len({s.id for s in made}) == 2
    in_site = [s for s in sites["site1"].compute.servers(name="^multi")]
    assert len(in_site) == 2
    assert not {s.id for s in made} & {s.id for s in in_site}, "top ids are not the site's ids"
    assert {s.availability_zone for s in made} == {"site1"}
    for server in made:
        cloud.compute.delete_server(server)
