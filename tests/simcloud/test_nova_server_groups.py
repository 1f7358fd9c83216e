"""Server groups of the simulated Nova: shapes per microversion, who sees
which group, the `group` hint, and the groups' policies on the site's one
compute host (anti-affinity leaves a second member unplaced, as Nova does)."""
from __future__ import annotations

import pytest

from _nova_site import start_site

MISSING = "0b6b2d8a-1111-4b2a-9a51-6c3e6e2a1f00"


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def _group(site, *, version="2.64", as_="alice", **spec):
    reply = await site.compute("POST", "/os-server-groups", version=version, as_=as_,
                               json={"server_group": {"name": "g", **spec}})
    assert reply.status == 200, reply.body
    return reply.body["server_group"]


async def _boot_in(site, group, *, as_="alice", **more):
    body = {"server": {"name": "member", "imageRef": site.image_id("cirros"),
                       "flavorRef": site.flavor_id("m1.tiny"), "networks": "none", **more},
            "os:scheduler_hints": {"group": group}}
    return await site.compute("POST", "/servers", version="2.96", as_=as_, json=body)


async def _status(site, server_id):
    server = (await site.compute("GET", f"/servers/{server_id}", version="2.96",
                                 as_="admin")).body["server"]
    return server["status"], server.get("fault", {}).get("message"), \
        server["OS-EXT-SRV-ATTR:host"]


async def test_shapes_per_microversion(site):
    old = await _group(site, version="2.1", policies=["anti-affinity"])
    assert old == {"id": old["id"], "name": "g", "policies": ["anti-affinity"], "metadata": {},
                   "members": []}
    soft = await _group(site, version="2.15", policies=["soft-affinity"])
    assert (soft["policies"], soft["project_id"], soft["user_id"]) == (
        ["soft-affinity"], "p-one", "u-alice")
    new = await _group(site, policy="anti-affinity", rules={"max_server_per_host": "2"})
    assert new == {"id": new["id"], "name": "g", "policy": "anti-affinity",
                   "rules": {"max_server_per_host": 2}, "members": [],
                   "project_id": "p-one", "user_id": "u-alice"}
    shown_old = (await site.compute("GET", f"/os-server-groups/{new['id']}",
                                     version="2.1")).body["server_group"]
    assert shown_old["policies"] == ["anti-affinity"] and "rules" not in shown_old
    shown_new = (await site.compute("GET", f"/os-server-groups/{old['id']}",
                                     version="2.64")).body["server_group"]
    assert (shown_new["policy"], shown_new["rules"]) == ("anti-affinity", {})


@pytest.mark.parametrize("version, spec, message", [
    ("2.64", {"policy": "affinity", "rules": {"max_server_per_host": 2}},
     "Only anti-affinity policy supports rules."),
    ("2.1", {"policies": ["soft-affinity"]},
     "Invalid input for field/attribute 0. Value: soft-affinity. 'soft-affinity' is not one "
     "of ['anti-affinity', 'affinity']"),
    ("2.1", {"policy": "affinity"},
     "Invalid input for field/attribute server_group. Value: {'name': 'g', 'policy': "
     "'affinity'}. 'policies' is a required property"),
    ("2.64", {"policy": "anti-affinity", "rules": {"max_server_per_host": 0}},
     "Invalid input for field/attribute max_server_per_host. Value: 0. 0 is less than the "
     "minimum of 1"),
])
async def test_bad_creates(site, version, spec, message):
    reply = await site.compute("POST", "/os-server-groups", version=version,
                               json={"server_group": {"name": "g", **spec}})
    assert (reply.status, reply.body["badRequest"]["message"]) == (400, message)


async def test_who_sees_which_group(site):
    mine = await _group(site, policy="affinity")
    theirs = await _group(site, policy="affinity", as_="carol")
    own = (await site.compute("GET", "/os-server-groups")).body["server_groups"]
    assert [g["id"] for g in own] == [mine["id"]]
    everyone = await site.compute("GET", "/os-server-groups", params={"all_projects": "1"})
    assert [g["id"] for g in everyone.body["server_groups"]] == [mine["id"]], "tenants: own"
    admin = await site.compute("GET", "/os-server-groups", params={"all_projects": "1"},
                               as_="admin")
    assert [g["id"] for g in admin.body["server_groups"]] == [mine["id"], theirs["id"]]
    paged = await site.compute("GET", "/os-server-groups", as_="admin",
                               params={"all_projects": "1", "limit": "1", "offset": "1"})
    assert [g["id"] for g in paged.body["server_groups"]] == [theirs["id"]]
    hidden = await site.compute("GET", f"/os-server-groups/{theirs['id']}")
    assert (hidden.status, hidden.body["itemNotFound"]["message"]) == (
        404, f"Instance group {theirs['id']} could not be found.")
    strict = await site.compute("GET", "/os-server-groups", version="2.75",
                                params={"nope": "1"})
    assert strict.status == 400
    assert (await site.compute("DELETE", f"/os-server-groups/{theirs['id']}")).status == 404
    assert (await site.compute("DELETE", f"/os-server-groups/{mine['id']}")).status == 204


async def test_group_hints_are_checked(site):
    theirs = await _group(site, policy="affinity", as_="carol")
    malformed = await _boot_in(site, "not-a-uuid")
    assert malformed.body["badRequest"]["message"] == (
        "Invalid input for field/attribute group. Value: not-a-uuid. 'not-a-uuid' is not "
        "valid under any of the given schemas")
    for group in (MISSING, theirs["id"]):
        unknown = await _boot_in(site, group)
        assert (unknown.status, unknown.body["badRequest"]["message"]) == (
            400, f"Instance group {group} could not be found.")


async def test_anti_affinity_holds_one_member_on_the_one_host(site):
    group = await _group(site, policy="anti-affinity")
    first = (await _boot_in(site, group["id"])).body["server"]["id"]
    second = (await _boot_in(site, [group["id"]])).body["server"]["id"]
    site.settle()
    assert (await _status(site, first))[0] == "ACTIVE"
    assert await _status(site, second) == (
        "ERROR", "No valid host was found. There are not enough hosts available.", None)
    members = (await site.compute("GET", f"/os-server-groups/{group['id']}")).body
    assert sorted(members["server_group"]["members"]) == sorted([first, second])
    shown = (await site.compute("GET", f"/servers/{second}", version="2.71")).body["server"]
    assert shown["server_groups"] == [group["id"]]
    # the placed member deleted, the host is free for the next one
    await site.compute("DELETE", f"/servers/{first}")
    site.settle()
    third = (await _boot_in(site, group["id"])).body["server"]["id"]
    site.settle()
    assert (await _status(site, third))[0] == "ACTIVE"
    members = (await site.compute("GET", f"/os-server-groups/{group['id']}")).body
    assert sorted(members["server_group"]["members"]) == sorted([second, third])


async def test_a_request_that_cannot_all_be_placed_places_none(site):
    group = await _group(site, policy="anti-affinity", rules={"max_server_per_host": 2})
    reply = await _boot_in(site, group["id"], min_count=3, return_reservation_id=True)
    site.settle()
    listed = (await site.compute("GET", "/servers/detail", version="2.96", params={
        "reservation_id": reply.body["reservation_id"]})).body["servers"]
    assert [s["status"] for s in listed] == ["ERROR"] * 3
    two = await _boot_in(site, group["id"], min_count=2, return_reservation_id=True)
    site.settle()
    listed = (await site.compute("GET", "/servers/detail", version="2.96", params={
        "reservation_id": two.body["reservation_id"]})).body["servers"]
    assert [s["status"] for s in listed] == ["ACTIVE"] * 2


async def test_affinity_and_soft_policies_always_fit(site):
    for spec in ({"policy": "affinity"}, {"policy": "soft-anti-affinity"}):
        group = await _group(site, **spec)
        made = [(await _boot_in(site, group["id"])).body["server"]["id"] for _ in range(3)]
        site.settle()
        assert [(await _status(site, s))[0] for s in made] == ["ACTIVE"] * 3


async def test_deleting_a_group_takes_it_from_its_members(site):
    group = await _group(site, policy="affinity")
    server_id = (await _boot_in(site, group["id"])).body["server"]["id"]
    hinted = (await site.compute("GET", f"/servers/{server_id}", version="2.100")).body
    assert hinted["server"]["scheduler_hints"] == {"group": [group["id"]]}
    assert (await site.compute("DELETE", f"/os-server-groups/{group['id']}")).status == 204
    shown = (await site.compute("GET", f"/servers/{server_id}", version="2.100")).body
    assert (shown["server"]["server_groups"], shown["server"]["scheduler_hints"]) == ([], {})


async def test_group_quotas(site):
    await site.compute("PUT", "/os-quota-sets/p-one", as_="admin",
                       json={"quota_set": {"server_groups": 1, "server_group_members": 1}})
    group = await _group(site, policy="affinity")
    over = await site.compute("POST", "/os-server-groups", version="2.64", json={
        "server_group": {"name": "g2", "policy": "affinity"}})
    assert (over.status, over.body["forbidden"]["message"]) == (
        403, "Quota exceeded, too many server groups.")
    assert (await _boot_in(site, group["id"])).status == 202
    full = await _boot_in(site, group["id"])
    assert (full.status, full.body["forbidden"]["message"]) == (
        403, "Quota exceeded, too many servers in group")
    limits = (await site.compute("GET", "/limits")).body["limits"]["absolute"]
    assert (limits["maxServerGroups"], limits["totalServerGroupsUsed"]) == (1, 1)
