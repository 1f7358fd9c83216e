"""Server create, show, update and delete through the cascade, checked in the sites."""
from __future__ import annotations

import openstack
import pytest

from tests.functional.helpers import STAMP, boot, bottom_copy, flavor_id, image_id, wait_for
from tests.leakcheck import assert_no_leak


def test_create_in_each_zone_lands_in_that_site(demo, cloud, sites):
    for zone in demo.zones:
        server = boot(demo, cloud, zone=zone)
        assert server.availability_zone == zone
        where, bottom = bottom_copy(sites, server.id)
        assert where == zone
        assert bottom.id != server.id, "the top id must not be the site's id"
        assert bottom.status == "ACTIVE"
        assert STAMP not in server.metadata
        cloud.compute.delete_server(server)
        cloud.compute.wait_for_delete(server, wait=60, interval=0.5)
        assert wait_for(lambda: bottom_copy(sites, server.id) == (None, None))


def test_scheduler_places_without_a_zone(demo, cloud, sites):
    """Each server lands in the site whose zone it reports; how they spread
    depends on the sites' free RAM (see test_scheduler_spreads_equal_sites)."""
    servers = [boot(demo, cloud, wait=False) for _ in range(len(demo.zones) + 1)]
    try:
        for server in servers:
            server = cloud.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.5)
            where, _ = bottom_copy(sites, server.id)
            assert where == server.availability_zone
    finally:
        for server in servers:
            cloud.compute.delete_server(server)


def test_show_update_and_answers_hold_no_site_detail(demo, cloud, sites):
    server = boot(demo, cloud, zone=demo.zones[-1], metadata={"role": "web"})
    updated = cloud.compute.update_server(server, name="renamed")
    assert updated.name == "renamed"
    _, bottom = bottom_copy(sites, server.id)
    assert bottom.name == "renamed"
    raw = cloud.compute.get(f"/servers/{server.id}", microversion="2.1").json()
    assert raw["server"]["id"] == server.id
    assert raw["server"]["metadata"] == {"role": "web"}
    assert raw["server"]["image"]["id"] != bottom.image["id"]
    assert raw["server"]["flavor"]["id"] != bottom.flavor["id"]
    site_urls = demo.site_urls()
    assert_no_leak(raw, site_urls + [bottom.id, bottom.image["id"], bottom.flavor["id"]])
    detail = cloud.compute.get("/servers/detail", microversion="2.96").json()
    assert_no_leak(detail, site_urls + [bottom.id])
    for link in raw["server"]["links"]:
        assert link["href"].startswith(demo.url)
    cloud.compute.delete_server(server)


def test_delete_removes_the_bottom_server(demo, cloud, sites):
    server = boot(demo, cloud, zone=demo.zones[-1])
    cloud.compute.delete_server(server)
    cloud.compute.wait_for_delete(server, wait=60, interval=0.5)
    with pytest.raises(openstack.exceptions.NotFoundException):
        cloud.compute.get_server(server.id)
    assert wait_for(lambda: bottom_copy(sites, server.id) == (None, None))


def test_multiple_create_gives_every_server_a_top_id(demo, cloud, sites):
    zone = demo.zones[0]
    name = f"multi-{demo.port}"
    response = cloud.compute.post("/servers", json={"server": {
        "name": name, "flavorRef": flavor_id(cloud, demo.tiny), "imageRef": image_id(cloud, demo.image),
        "networks": "none", "min_count": 2, "max_count": 2, "availability_zone": zone}}, microversion="2.37")
    assert response.status_code == 202, response.text
    made = [s for s in cloud.compute.servers(details=True, name=f"^{name}")]
    for server in made:
        demo.made(cloud, server.id)
    assert len(made) == 2 and len({s.id for s in made}) == 2
    in_site = [s for s in sites[zone].compute.servers(name=f"^{name}")]
    assert len(in_site) == 2
    assert not {s.id for s in made} & {s.id for s in in_site}, "top ids are not the site's ids"
    assert {s.availability_zone for s in made} == {zone}
    for server in made:
        cloud.compute.delete_server(server)
