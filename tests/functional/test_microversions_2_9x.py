"""Compute microversions 2.97-2.104 through the cascade: server views with the
image's properties (2.98) and the scheduler hints naming the top server group
(2.100), flavors without rxtx_factor/disabled (2.102), and pinning a server's
availability zone by update (2.104), checked against the server's copy in its
site."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.functional.helpers import boot, bottom_copy


def fault(response, status: int) -> str:
    assert response.status_code == status, response.text
    (body,) = response.json().values()
    assert body["code"] == status
    return body["message"]


@pytest.fixture(scope="module")
def grouped(demo, cloud, sites):
    """(top server, its group, zone, site's copy) of a server made with a group hint."""
    group = cloud.compute.post("/os-server-groups", microversion="2.64", json={"server_group": {
        "name": f"cascade-test-mv-{uuid.uuid4().hex[:8]}", "policy": "anti-affinity"}}).json()["server_group"]
    server = boot(demo, cloud, scheduler_hints={"group": group["id"]})
    zone, bottom = bottom_copy(sites, server.id)
    assert zone is not None
    yield server, group, zone, bottom
    cloud.compute.delete_server(server.id)
    cloud.compute.wait_for_delete(server, wait=120)
    cloud.compute.delete(f"/os-server-groups/{group['id']}")


def test_views_name_top_ids(cloud, sites, grouped):
    server, group, zone, bottom = grouped
    shown = cloud.compute.get(f"/servers/{server.id}", microversion="2.100").json()["server"]
    site_view = sites[zone].compute.get(f"/servers/{bottom.id}", microversion="2.100").json()["server"]
    assert shown["scheduler_hints"]["group"] == [group["id"]]
    assert site_view["scheduler_hints"]["group"] != [group["id"]]     # the site names its own group
    assert shown["image"]["properties"] == site_view["image"]["properties"]
    assert "properties" not in cloud.compute.get(f"/servers/{server.id}", microversion="2.97").json()["server"]["image"]
    assert "scheduler_hints" not in cloud.compute.get(f"/servers/{server.id}", microversion="2.99").json()["server"]
    listed = cloud.compute.get("/servers/detail", microversion="2.100").json()["servers"]
    assert next(s for s in listed if s["id"] == server.id)["scheduler_hints"]["group"] == [group["id"]]


def test_flavors_lose_rxtx_factor_at_2_102(cloud, sites):
    for version, present in (("2.101", True), ("2.102", False)):
        top = cloud.compute.get("/flavors/detail", microversion=version).json()["flavors"]
        site = next(iter(sites.values())).compute.get("/flavors/detail", microversion=version).json()["flavors"]
        assert top and site
        for flavors in (top, site):
            assert all(("rxtx_factor" in f) is present and ("OS-FLV-DISABLED:disabled" in f) is present
                       for f in flavors)


def test_pin_and_unpin_by_update(demo, cloud, sites, grouped):
    server, _, zone, bottom = grouped
    other = next(z for z in demo.zones if z != zone)
    path = f"/servers/{server.id}"

    def pin(value, version="2.104"):
        return cloud.compute.put(path, json={"server": {"pinned_availability_zone": value}}, microversion=version)

    def site_pin():
        return sites[zone].compute.get(f"/servers/{bottom.id}", microversion="2.104").json()["server"]

    assert fault(pin(zone, "2.103"), 400)
    assert fault(pin(other), 409) == \
        f"Server can only be pinned to its current availability zone '{zone}', but '{other}' was requested."
    answer = pin(zone)
    assert answer.status_code == 200, answer.text
    assert answer.json()["server"]["pinned_availability_zone"] == zone
    in_site = site_pin()
    assert in_site["pinned_availability_zone"] == in_site["OS-EXT-AZ:availability_zone"]
    assert pin(zone).status_code == 200                                   # re-pin to the same zone
    assert fault(pin(other), 409).startswith("Cannot change pinned availability zone directly.")
    for _ in range(2):                                                    # unpin, and unpin again
        answer = pin(None)
        assert answer.status_code == 200, answer.text
        assert answer.json()["server"]["pinned_availability_zone"] is None
    assert site_pin()["pinned_availability_zone"] is None


def test_share_attachments_are_the_sites(cloud, sites, grouped):
    server, _, zone, bottom = grouped
    for version in ("2.96", "2.97"):
        top = cloud.compute.get(f"/servers/{server.id}/shares", microversion=version)
        site = sites[zone].compute.get(f"/servers/{bottom.id}/shares", microversion=version)
        assert top.status_code == site.status_code
        if top.status_code == 200:
            assert top.json() == site.json()
    assert cloud.compute.get(f"/servers/{server.id}/shares", microversion="2.96").status_code == 404


def test_a_server_created_in_a_zone_is_pinned_to_it(demo, cloud, sites):
    """As Nova pins a server created in a zone (shown from 2.96), the
    cascade's zone is shown, and the site's copy is pinned to the site's own
    zone, so a pin is honoured by the site too. Without a zone, no pin."""
    zone = demo.zones[-1]
    pinned = boot(demo, cloud, zone=zone)
    free = boot(demo, cloud)
    try:
        shown = cloud.compute.get(f"/servers/{pinned.id}", microversion="2.96").json()["server"]
        assert shown["pinned_availability_zone"] == zone
        site_zone, bottom = bottom_copy(sites, pinned.id)
        assert site_zone == zone
        site_view = sites[zone].compute.get(f"/servers/{bottom.id}", microversion="2.96").json()["server"]
        assert site_view["pinned_availability_zone"] == site_view["OS-EXT-AZ:availability_zone"]
        unpinned = cloud.compute.get(f"/servers/{free.id}", microversion="2.96").json()["server"]
        assert unpinned["pinned_availability_zone"] is None
    finally:
        for server in (pinned, free):
            cloud.compute.delete_server(server.id, ignore_missing=True)


def test_a_server_being_deleted_shows_until_its_site_deleted_it(demo, cloud, sites):
    """Nova shows a server until it is gone; once a show says 404, a list
    no longer has it, and neither does its site."""
    server = boot(demo, cloud)
    cloud.compute.delete_server(server.id)
    deadline = time.monotonic() + 120
    while (shown := cloud.compute.get(f"/servers/{server.id}")).status_code == 200:
        assert shown.json()["server"]["id"] == server.id
        assert time.monotonic() < deadline, "the server never went"
        time.sleep(0.2)
    assert shown.status_code == 404, shown.text
    assert server.id not in [s.id for s in cloud.compute.servers()]
    assert bottom_copy(sites, server.id) == (None, None)
