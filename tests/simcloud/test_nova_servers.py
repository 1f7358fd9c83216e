"""The simulated Nova's server lifecycle through its HTTP API: versions,
auth, microversions, request ids, create (and its checks), BUILD -> ACTIVE,
update, delete, tenant isolation, capacity and quota."""
from __future__ import annotations

import pytest

from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def test_versions_are_unauthenticated_and_use_the_request_host(site):
    listing = await site.call("GET", "/compute/", as_=None)
    assert listing.status == 200
    v20, v21 = listing.body["versions"]
    assert (v20["id"], v20["status"]) == ("v2.0", "DEPRECATED")
    assert (v21["id"], v21["min_version"], v21["version"]) == ("v2.1", "2.1", "2.104")
    host = str(site.client.make_url("/")).rstrip("/")
    assert v21["links"][0]["href"] == f"{host}/compute/v2.1/"
    assert "x-openstack-request-id" not in listing.headers     # outside Nova's pipeline
    doc = await site.call("GET", "/compute/v2.1/", as_=None)
    assert doc.body["version"]["media-types"][0]["base"] == "application/json"
    assert doc.headers["OpenStack-API-Version"] == "compute 2.1"
    assert doc.headers["Content-Type"] == "application/json"
    legacy = await site.call("GET", "/compute/v2/", as_=None)
    assert legacy.body["version"]["id"] == "v2.0"


async def test_missing_or_unknown_token_is_401_as_keystonemiddleware_answers(site):
    for token in (None, "nobody"):
        reply = await site.compute("GET", "/servers", as_=token)
        assert reply.status == 401
        assert reply.body == {"error": {"code": 401, "title": "Unauthorized", "message":
                                        "The request you have made requires authentication."}}
        assert reply.headers["x-openstack-request-id"].startswith("req-")


async def test_microversion_negotiation_and_echo(site):
    reply = await site.compute("GET", "/servers", version="2.60")
    assert reply.status == 200
    assert reply.headers["OpenStack-API-Version"] == "compute 2.60"
    assert reply.headers["X-OpenStack-Nova-API-Version"] == "2.60"
    assert reply.headers.getall("Vary") == ["OpenStack-API-Version, X-OpenStack-Nova-API-Version"]
    assert reply.headers["x-compute-request-id"] == reply.headers["x-openstack-request-id"]
    legacy = await site.compute("GET", "/servers",
                                headers={"X-OpenStack-Nova-API-Version": "2.10"})
    assert legacy.headers["OpenStack-API-Version"] == "compute 2.10"
    default = await site.compute("GET", "/servers")
    assert default.headers["OpenStack-API-Version"] == "compute 2.1"
    latest = await site.compute("GET", "/servers", version="latest")
    assert latest.headers["OpenStack-API-Version"] == "compute 2.104"
    too_new = await site.compute("GET", "/servers", version="2.105")
    assert too_new.status == 406
    assert too_new.body["computeFault"]["message"] == (
        "Version 2.105 is not supported by the API. Minimum is 2.1 and maximum is 2.104.")
    malformed = await site.compute("GET", "/servers", version="2.x")
    assert malformed.status == 400
    assert "is of invalid format" in malformed.body["badRequest"]["message"]


async def test_create_answers_202_then_walks_build_to_active(site):
    reply = await site.compute("POST", "/servers", version="2.96", json={"server": {
        "name": "web", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny"),
        "networks": "auto", "metadata": {"role": "web"}, "adminPass": "s3cret"}})
    assert reply.status == 202
    created = reply.body["server"]
    assert set(created) == {"id", "links", "adminPass", "OS-DCF:diskConfig", "security_groups"}
    assert created["adminPass"] == "s3cret"
    assert created["security_groups"] == [{"name": "default"}]
    assert reply.headers["Location"] == created["links"][0]["href"]
    show = (await site.compute("GET", f"/servers/{created['id']}", version="2.96")).body["server"]
    assert (show["status"], show["OS-EXT-STS:task_state"], show["addresses"]) == (
        "BUILD", "scheduling", {})
    site.clock.advance(0.5)
    show = (await site.compute("GET", f"/servers/{created['id']}", version="2.96")).body["server"]
    assert (show["status"], show["OS-EXT-STS:task_state"]) == ("BUILD", "spawning")
    site.clock.advance(0.6)
    show = (await site.compute("GET", f"/servers/{created['id']}", version="2.96")).body["server"]
    assert show["status"] == "ACTIVE"
    assert show["OS-EXT-STS:power_state"] == 1 and show["OS-EXT-STS:task_state"] is None
    assert show["OS-EXT-AZ:availability_zone"] == "nova"
    assert show["metadata"] == {"role": "web"}
    assert show["OS-SRV-USG:launched_at"] is not None
    assert show["addresses"]["private"][0]["OS-EXT-IPS:type"] == "fixed"
    assert show["created"].endswith("Z") and len(show["created"]) == 20
    assert show["flavor"]["original_name"] == "m1.tiny"       # 2.47 embedded flavor
    assert show["pinned_availability_zone"] is None            # 2.96
    assert "OS-EXT-SRV-ATTR:host" not in show                  # admin only
    assert show["image"]["id"] == site.image_id("cirros")


async def test_views_follow_the_microversion(site):
    server_id = await site.boot("old")
    site.settle()
    v21 = (await site.compute("GET", f"/servers/{server_id}")).body["server"]
    assert set(v21["flavor"]) == {"id", "links"}
    assert not {"locked", "description", "tags", "locked_reason"} & set(v21)
    v273 = (await site.compute("GET", f"/servers/{server_id}", version="2.73")).body["server"]
    assert {"locked", "description", "tags", "locked_reason", "server_groups"} <= set(v273)
    admin = (await site.compute("GET", f"/servers/{server_id}", version="2.16",
                                as_="admin")).body["server"]
    assert admin["host_status"] == "UP"
    assert admin["OS-EXT-SRV-ATTR:host"] == "site1-compute"
    assert admin["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")


@pytest.mark.parametrize("change, status, message", [
    ({"imageRef": "not-a-uuid"}, 400, "Invalid input for field/attribute imageRef"),
    ({"imageRef": "7d9e6a1c-2b5c-4f43-9f0e-9f0f1c2d3e4f"}, 400, "Can not find requested image"),
    ({"flavorRef": "nope"}, 400, "Flavor nope could not be found."),
    ({"availability_zone": "elsewhere"}, 400,
     "The requested availability zone is not available"),
    ({"key_name": "missing"}, 400, "Invalid key_name provided."),
    ({"bogus": 1}, 400, "Additional properties are not allowed ('bogus' was unexpected)"),
    ({"name": " padded"}, 400, "An invalid 'name' value was provided."),
    ({"networks": "some"}, 400, "Invalid input for field/attribute networks. Value: some. "
                                   "'some' is not valid under any of the given schemas"),
    ({"min_count": 3, "max_count": 2}, 400, "min_count must be <= max_count"),
])
async def test_create_checks(site, change, status, message):
    body = {"name": "x", "imageRef": site.image_id("cirros"),
            "flavorRef": site.flavor_id("m1.tiny"), "networks": "auto", **change}
    reply = await site.compute("POST", "/servers", version="2.60", json={"server": body})
    assert reply.status == status
    assert message in reply.body["badRequest"]["message"]
    assert reply.headers["OpenStack-API-Version"] == "compute 2.60"


async def test_a_private_flavor_is_not_found_for_a_tenant(site):
    made = await site.compute("POST", "/flavors", as_="admin", json={"flavor": {
        "name": "hidden", "ram": 64, "vcpus": 1, "disk": 1, "id": "hidden",
        "os-flavor-access:is_public": False}})
    assert made.status == 200
    body = {"name": "x", "imageRef": site.image_id("cirros"), "flavorRef": "hidden",
            "networks": "none"}
    refused = await site.compute("POST", "/servers", version="2.60", json={"server": body})
    assert refused.body["badRequest"]["message"] == "Flavor hidden could not be found."
    admin = await site.compute("POST", "/servers", version="2.60", as_="admin",
                               json={"server": body})
    assert admin.status == 202


async def test_networks_are_required_from_2_37_only(site):
    body = {"name": "x", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny")}
    assert (await site.compute("POST", "/servers", version="2.36",
                               json={"server": body})).status == 202
    reply = await site.compute("POST", "/servers", version="2.37", json={"server": body})
    assert reply.status == 400
    assert "'networks' is a required property" in reply.body["badRequest"]["message"]


async def test_own_availability_zone_is_accepted_and_pinned(site):
    server_id = await site.boot("pinned", availability_zone="nova")
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.96")).body["server"]
    assert show["pinned_availability_zone"] == "nova"


async def test_multiple_create_names_and_reservation_id(site):
    reply = await site.compute("POST", "/servers", version="2.60", json={"server": {
        "name": "batch", "imageRef": site.image_id("cirros"),
        "flavorRef": site.flavor_id("m1.tiny"), "networks": "none", "min_count": 3,
        "return_reservation_id": True}})
    assert reply.status == 202
    reservation = reply.body["reservation_id"]
    listed = await site.compute("GET", "/servers", params={"reservation_id": reservation})
    assert sorted(s["name"] for s in listed.body["servers"]) == ["batch-1", "batch-2", "batch-3"]


async def test_update_changes_name_description_and_access_ips(site):
    server_id = await site.boot("before")
    reply = await site.compute("PUT", f"/servers/{server_id}", version="2.19", json={"server": {
        "name": "after", "description": "renamed", "accessIPv4": "192.0.2.7"}})
    assert reply.status == 200
    server = reply.body["server"]
    assert (server["name"], server["description"], server["accessIPv4"]) == (
        "after", "renamed", "192.0.2.7")
    assert "OS-EXT-STS:vm_state" not in server      # the reduced update view before 2.75
    full = (await site.compute("PUT", f"/servers/{server_id}", version="2.90",
                               json={"server": {"name": "again"}})).body["server"]
    assert "OS-EXT-STS:vm_state" in full
    assert full["OS-EXT-SRV-ATTR:hostname"] == "before"     # made once, at creation
    canonical = (await site.compute("PUT", f"/servers/{server_id}", json={"server": {
        "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"}})).body["server"]
    assert canonical["accessIPv6"] == "::babe:dc0c:1602"        # as Nova's IPAddress column
    bad = await site.compute("PUT", f"/servers/{server_id}", version="2.1",
                             json={"server": {"description": "too early"}})
    assert bad.status == 400


async def test_delete_goes_through_deleting_then_only_changes_since_shows_it(site):
    server_id = await site.boot("doomed")
    site.settle()
    since = "2000-01-01T00:00:00Z"
    assert (await site.compute("DELETE", f"/servers/{server_id}")).status == 204
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.96")).body["server"]
    assert show["OS-EXT-STS:task_state"] == "deleting"
    site.settle()
    gone = await site.compute("GET", f"/servers/{server_id}")
    assert gone.status == 404
    assert gone.body == {"itemNotFound": {"code": 404, "message":
                                          f"Instance {server_id} could not be found."}}
    assert (await site.compute("GET", "/servers")).body["servers"] == []
    changes = await site.compute("GET", "/servers/detail", params={"changes-since": since})
    (row,) = changes.body["servers"]
    assert (row["id"], row["status"]) == (server_id, "DELETED")


async def test_tombstones_are_forgotten_after_the_retention(site):
    site.site.store.tombstone_seconds = 10
    server_id = await site.boot("short-lived")
    await site.compute("DELETE", f"/servers/{server_id}")
    site.clock.advance(60)
    await site.boot("trigger-purge")
    await site.compute("DELETE", f"/servers/{await site.boot('another')}")
    assert server_id not in site.site.store.by_id


async def test_tenants_see_only_their_servers(site):
    mine = await site.boot("alices", as_="alice")
    theirs = await site.boot("carols", as_="carol")
    assert (await site.compute("GET", f"/servers/{mine}", as_="carol")).status == 404
    assert (await site.compute("DELETE", f"/servers/{mine}", as_="carol")).status == 404
    # bob shares alice's project
    assert (await site.compute("GET", f"/servers/{mine}", as_="bob")).status == 200
    names = [s["name"] for s in (await site.compute("GET", "/servers", as_="carol")).body["servers"]]
    assert names == ["carols"]
    denied = await site.compute("GET", "/servers", as_="carol", params={"all_tenants": "1"})
    assert denied.status == 403
    assert "get_all_tenants" in denied.body["forbidden"]["message"]
    every = await site.compute("GET", "/servers", as_="admin", params={"all_tenants": "1"})
    assert {s["id"] for s in every.body["servers"]} == {mine, theirs}
    one = await site.compute("GET", "/servers", as_="admin",
                             params={"all_tenants": "1", "project_id": "p-two"})
    assert [s["id"] for s in one.body["servers"]] == [theirs]


async def test_a_server_that_does_not_fit_goes_to_error_and_delete_frees_room():
    site = await start_site(vcpus=2, ram_mb=4096)
    try:
        first = await site.boot("fits", flavor="m1.medium")        # 2 vCPU, 4 GB
        second = await site.boot("too-much", flavor="m1.tiny")
        site.settle()
        show = (await site.compute("GET", f"/servers/{second}", version="2.96")).body["server"]
        assert show["status"] == "ERROR"
        assert show["fault"]["code"] == 500
        assert show["fault"]["message"] == (
            "No valid host was found. There are not enough hosts available.")
        assert show["hostId"] == "" and show["addresses"] == {}
        await site.compute("DELETE", f"/servers/{first}")
        third = await site.boot("now-fits", flavor="m1.tiny")
        site.settle()
        show = (await site.compute("GET", f"/servers/{third}")).body["server"]
        assert show["status"] == "ACTIVE"
    finally:
        await site.close()


async def test_instance_quota_is_enforced_per_project():
    site = await start_site()
    site.site.store.quotas.instances = 2
    try:
        await site.boot("a")
        await site.boot("b")
        reply = await site.compute("POST", "/servers", version="2.60", json={"server": {
            "name": "c", "imageRef": site.image_id("cirros"),
            "flavorRef": site.flavor_id("m1.tiny"), "networks": "none"}})
        assert reply.status == 403
        assert reply.body["forbidden"]["message"] == (
            "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances")
        await site.boot("other-project", as_="carol")
    finally:
        await site.close()


async def test_unknown_paths_and_bad_bodies(site):
    missing = await site.compute("GET", "/nothing-here")   # Nova's router: webob's 404
    assert missing.status == 404 and missing.body["code"] == "404 Not Found"
    assert "OpenStack-API-Version" not in missing.headers
    wrong_method = await site.compute("PATCH", "/flavors", json={})
    assert wrong_method.status == 404 and wrong_method.body["title"] == "Not Found"
    refused = await site.compute("GET", "/servers", version="2.999")
    assert refused.status == 406 and refused.headers["OpenStack-API-Version"] == "compute 2.999"
    assert refused.headers["Content-Type"] == "application/json; charset=UTF-8"
    malformed = await site.call("POST", "/compute/v2.1/servers", headers={
        "Content-Type": "application/json"}, json=None)
    assert malformed.status == 400
