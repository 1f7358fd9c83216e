"""What the simulated Nova serves from 2.97 to 2.104, as Nova 34 does:
shares (2.97, none ever attached), image properties on servers (2.98),
scheduler hints (2.100), flavors without rxtx_factor/disabled and with a
`name` filter plus unknown query parameters refused everywhere (2.102),
and pinning or unpinning a server's availability zone (2.104)."""
from __future__ import annotations

import pytest

from _nova_site import start_site
from simcloud.glance.store import ImageSpec


@pytest.fixture
async def site():
    harness = await start_site(images=[
        ImageSpec("cirros", 1000, properties=(("hw_rng_model", "virtio"),
                                              ("os_version", "0.6"))),
        ImageSpec("plain", 1000)])
    yield harness
    await harness.close()


async def _server(site, **extra) -> dict:
    server_id = await site.boot(**extra)
    site.settle()
    reply = await site.compute("GET", f"/servers/{server_id}", version="2.104")
    assert reply.status == 200, reply.body
    return reply.body["server"]


async def test_image_properties_nova_knows_show_from_2_98(site):
    server = await _server(site)
    assert server["image"]["properties"] == {"hw_rng_model": "virtio"}   # not os_version
    older = await site.compute("GET", f"/servers/{server['id']}", version="2.97")
    assert "properties" not in older.body["server"]["image"]
    rebuilt = await site.compute("POST", f"/servers/{server['id']}/action", version="2.104",
                                 json={"rebuild": {"imageRef": site.image_id("plain")}})
    assert rebuilt.body["server"]["image"]["properties"] == {}


async def test_scheduler_hints_show_as_lists_from_2_100(site):
    server_id = (await site.compute("POST", "/servers", version="2.104", json={
        "server": {"name": "hinted", "imageRef": site.image_id("cirros"),
                   "flavorRef": site.flavor_id("m1.tiny"), "networks": "none"},
        "os:scheduler_hints": {"custom": "g1", "different_cell": ["a", "b"]}})).body["server"]["id"]
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.100")).body["server"]
    assert show["scheduler_hints"] == {"custom": ["g1"], "different_cell": ["a", "b"]}
    plain = await _server(site, name="plain")
    assert plain["scheduler_hints"] == {}
    older = await site.compute("GET", f"/servers/{server_id}", version="2.99")
    assert "scheduler_hints" not in older.body["server"]


async def test_flavors_from_2_102(site):
    detail = (await site.compute("GET", "/flavors/detail", version="2.102")).body["flavors"]
    assert detail and not {"rxtx_factor", "OS-FLV-DISABLED:disabled"} & set(detail[0])
    before = (await site.compute("GET", "/flavors/detail", version="2.101")).body["flavors"]
    assert {"rxtx_factor", "OS-FLV-DISABLED:disabled"} <= set(before[0])
    named = await site.compute("GET", "/flavors", version="2.102", params={"name": "^m1.(t|s)"})
    assert sorted(f["name"] for f in named.body["flavors"]) == ["m1.small", "m1.tiny"]
    ignored = await site.compute("GET", "/flavors", version="2.101", params={"name": "tiny"})
    assert ignored.status == 400        # 2.75..2.101 know no `name`
    rxtx = await site.compute("POST", "/flavors", version="2.102", as_="admin", json={
        "flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0, "rxtx_factor": 1.0}})
    assert rxtx.status == 400


@pytest.mark.parametrize("path", ["/servers/{id}", "/servers/{id}/metadata", "/flavors/{flavor}",
                                  "/flavors/{flavor}/os-extra_specs", "/os-availability-zone"])
async def test_unknown_query_parameters_are_refused_from_2_102(site, path):
    server_id = await site.boot()
    url = path.format(id=server_id, flavor=site.flavor_id("m1.tiny"))
    refused = await site.compute("GET", url, version="2.102", params={"nope": "1"})
    assert refused.status == 400
    assert refused.body["badRequest"]["message"] == (
        "Additional properties are not allowed ('nope' was unexpected)")
    assert (await site.compute("GET", url, version="2.101", params={"nope": "1"})).status == 200


async def test_shares_list_is_empty_from_2_97(site):
    server_id = await site.boot()
    listed = await site.compute("GET", f"/servers/{server_id}/shares", version="2.97")
    assert (listed.status, listed.body) == (200, {"shares": []})
    missing = await site.compute("GET", f"/servers/{server_id}/shares/s1", version="2.97")
    assert missing.body["itemNotFound"]["message"] == "Share s1 could not be found."
    assert (await site.compute("GET", f"/servers/{server_id}/shares", version="2.96")).status == 404
    other = await site.compute("GET", "/servers/nope/shares", version="2.97")
    assert other.status == 404


async def test_pinning_the_availability_zone_from_2_104(site):
    server = await _server(site)
    zone = server["OS-EXT-AZ:availability_zone"]

    async def pin(value, version="2.104"):
        return await site.compute("PUT", f"/servers/{server['id']}", version=version,
                                  json={"server": {"pinned_availability_zone": value}})
    elsewhere = await pin("elsewhere")
    assert elsewhere.status == 409
    assert elsewhere.body["conflictingRequest"]["message"] == (
        f"Server can only be pinned to its current availability zone '{zone}', "
        "but 'elsewhere' was requested.")
    pinned = await pin(zone)
    assert pinned.body["server"]["pinned_availability_zone"] == zone
    assert (await pin("elsewhere")).body["conflictingRequest"]["message"].startswith(
        "Cannot change pinned availability zone directly")
    assert (await pin(None)).body["server"]["pinned_availability_zone"] is None
    assert (await pin(zone, version="2.103")).status == 400


async def test_zone_detail_is_one_node_with_heartbeats(site):
    detail = await site.compute("GET", "/os-availability-zone/detail", as_="admin")
    internal, zone = detail.body["availabilityZoneInfo"]
    assert list(internal["hosts"]) == list(zone["hosts"]) == [site.site.store.host]
    heartbeat = zone["hosts"][site.site.store.host]["nova-compute"]["updated_at"]
    assert heartbeat.endswith(".000000") and heartbeat[18] == "0"    # every 10 seconds
