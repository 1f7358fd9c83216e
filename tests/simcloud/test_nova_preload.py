"""A site that starts with many servers (`SiteConfig.preload_servers`):
the servers themselves, and the list orders a site keeps (creation, uuid,
change) checked against full listings while servers change under them."""
from __future__ import annotations

import calendar
import random
import time

import pytest

from _nova_site import server_action, start_site
from simcloud.nova import preload

COUNT = 2000


@pytest.fixture
async def site():
    harness = await start_site(preload_servers=COUNT, build_seconds=1.0)
    yield harness
    await harness.close()


def _epoch(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


async def _all(site, params=(), *, as_="admin", limit=1000, path="/servers/detail") -> list[dict]:
    """Every row of a list, page by page, following the marker."""
    rows: list[dict] = []
    while True:
        query = list(params) + [("limit", str(limit))]
        if rows:
            query.append(("marker", rows[-1]["id"]))
        reply = await site.compute("GET", path, as_=as_, version="2.96", params=query)
        assert reply.status == 200, reply.body
        rows += reply.body["servers"]
        if len(reply.body["servers"]) < limit:
            return rows
        assert "servers_links" in reply.body


async def test_preloaded_servers_are_active_in_the_past_and_shared_by_the_tenants(site):
    now = site.clock()
    everyone = await _all(site, [("all_tenants", "1")])
    assert len(everyone) == COUNT == len({s["id"] for s in everyone})
    assert {s["status"] for s in everyone} == {"ACTIVE"}
    assert {s["flavor"]["original_name"] for s in everyone} == {"m1.tiny"}
    assert {s["image"]["id"] for s in everyone} == {site.image_id("cirros")}
    assert {s["OS-EXT-SRV-ATTR:host"] for s in everyone} == {"site1-compute"}
    assert all(s["addresses"]["private"] for s in everyone)
    # newest first, as created one after the other, each updated after its creation
    # and at least an hour before the site started
    assert everyone[0]["name"] == f"pre-site1-{COUNT}" and everyone[-1]["name"] == "pre-site1-1"
    created = [_epoch(s["created"]) for s in everyone]
    assert created == sorted(created, reverse=True)
    assert created[-1] >= now - preload.SPAN - preload.QUIET - 1
    assert all(_epoch(s["created"]) <= _epoch(s["updated"]) <= now - preload.QUIET
               for s in everyone)
    alices = await _all(site, as_="alice", path="/servers")
    carols = await _all(site, as_="carol", path="/servers")
    assert len(alices) == len(carols) == COUNT // 2
    assert {s["tenant_id"] for s in everyone if s["name"] == "pre-site1-1"} == {"p-one"}
    limits = (await site.compute("GET", "/limits", as_="carol")).body["limits"]["absolute"]
    assert limits["totalInstancesUsed"] == COUNT // 2
    # the configured capacity is left for new servers
    assert site.site.store.fits(site.site.store.flavor_by_name("m1.xlarge"))
    assert site.site.store.capacity.vcpus == site.site.config.vcpus + COUNT


async def test_a_preloaded_server_stops_starts_and_is_deleted_like_any_other(site):
    (row,) = (await site.compute("GET", "/servers", as_="alice", version="2.96",
                                 params={"name": "^pre-site1-7$"})).body["servers"]
    server_id = row["id"]
    stopped_at = int(site.clock())
    assert (await server_action(site, server_id, {"os-stop": None})).status == 202
    site.settle()
    shown = (await site.compute("GET", f"/servers/{server_id}", as_="alice")).body["server"]
    assert shown["status"] == "SHUTOFF" and _epoch(shown["updated"]) >= stopped_at
    assert (await server_action(site, server_id, {"os-start": None})).status == 202
    site.settle()
    assert (await site.compute("GET", f"/servers/{server_id}", as_="alice")
            ).body["server"]["status"] == "ACTIVE"
    assert (await site.compute("GET", f"/servers/{server_id}", as_="carol")).status == 404
    actions = (await site.compute("GET", f"/servers/{server_id}/os-instance-actions",
                                  as_="alice", version="2.58")).body["instanceActions"]
    assert [a["action"] for a in actions] == ["start", "stop", "create"]
    assert (await site.compute("DELETE", f"/servers/{server_id}", as_="alice")).status == 204
    site.settle()
    assert (await site.compute("GET", f"/servers/{server_id}", as_="alice")).status == 404
    assert len(await _all(site, as_="alice", path="/servers")) == COUNT // 2 - 1


async def _mixed_changes(site, rng: random.Random) -> None:
    """Servers booted, acted on, renamed, tagged with metadata and deleted,
    preloaded or not, with the clock moving on by less than a build at times,
    so that some transitions are still under way when lists are asked."""
    owners = {"p-one": "alice", "p-two": "carol"}
    ids = [s["id"] for s in await _all(site, [("all_tenants", "1")], path="/servers")]
    for round_ in range(40):
        shown = await site.compute("GET", f"/servers/{rng.choice(ids)}", as_="admin",
                                   version="2.96")
        if shown.status == 404:       # deleted in an earlier round
            continue
        server = shown.body["server"]
        owner = owners[server["tenant_id"]]
        kind = rng.choice(["boot", "stop", "lock", "metadata", "rename", "delete"])
        if kind == "boot":
            ids.append(await site.boot(f"new-{round_}", as_=rng.choice(list(owners.values()))))
        elif kind == "stop" and server["status"] == "ACTIVE":
            await server_action(site, server["id"], {"os-stop": None}, as_=owner)
        elif kind == "lock":
            await server_action(site, server["id"], {"lock": None}, as_=owner)
        elif kind == "metadata" and server["status"] in ("ACTIVE", "SHUTOFF"):
            await site.compute("POST", f"/servers/{server['id']}/metadata", as_=owner,
                               json={"metadata": {"round": str(round_)}})
        elif kind == "rename":
            await site.compute("PUT", f"/servers/{server['id']}", as_=owner,
                               json={"server": {"name": f"renamed-{round_}"}})
        elif kind == "delete" and not server["locked"]:
            await site.compute("DELETE", f"/servers/{server['id']}", as_=owner)
        site.clock.advance(rng.choice([0.0, 0.3, 0.6, 1.0, 2.0]))


async def test_changes_since_finds_what_a_full_listing_shows_changed(site):
    start = int(site.clock())
    await _mixed_changes(site, random.Random(4))
    live = await _all(site, [("all_tenants", "1")])
    deleted = await _all(site, [("all_tenants", "1"), ("deleted", "true")])
    assert deleted, "the mix deletes some servers"
    every = live + deleted
    for since in (start - preload.QUIET - 86400, start - 10, start, start + 20, start + 10**6):
        expected = {s["id"]: s["status"] for s in every if _epoch(s["updated"]) >= since}
        changed = await _all(site, [("all_tenants", "1"), ("changes-since", _iso(since))],
                             limit=50)
        assert {s["id"]: s["status"] for s in changed} == expected, since
        for tenant, project in (("alice", "p-one"), ("carol", "p-two")):
            own = await _all(site, [("changes-since", _iso(since))], as_=tenant, limit=50)
            assert {s["id"] for s in own} == {
                i for i in expected if next(s for s in every if s["id"] == i)["tenant_id"]
                == project}
            by_admin = await _all(site, [("all_tenants", "1"), ("project_id", project),
                                         ("changes-since", _iso(since))])
            assert {s["id"] for s in by_admin} == {s["id"] for s in own}
    window = await _all(site, [("all_tenants", "1"), ("changes-since", _iso(start)),
                               ("changes-before", _iso(start + 20))], limit=7)
    assert {s["id"] for s in window} == {
        s["id"] for s in every if start <= _epoch(s["updated"]) <= start + 20}
    # in changes-since lists the order is the default one: newest created first
    changed = await _all(site, [("all_tenants", "1"), ("changes-since", _iso(start))])
    assert [s["id"] for s in changed] == [s["id"] for s in sorted(
        changed, key=lambda s: (-_epoch(s["created"]), s["id"]))]


async def test_pages_by_uuid_and_by_updated_agree_with_the_full_list(site):
    await _mixed_changes(site, random.Random(5))
    everything = await _all(site, [("all_tenants", "1")])
    by_uuid = sorted(s["id"] for s in everything)
    for direction, expected in (("asc", by_uuid), ("desc", by_uuid[::-1])):
        rows = await _all(site, [("all_tenants", "1"), ("sort_key", "uuid"),
                                 ("sort_dir", direction)], limit=333, path="/servers")
        assert [s["id"] for s in rows] == expected
    by_update = [s["id"] for s in sorted(everything,
                                         key=lambda s: (-_epoch(s["updated"]), s["id"]))]
    rows = await _all(site, [("all_tenants", "1"), ("sort_key", "updated_at")], limit=333)
    assert [s["id"] for s in rows] == by_update
    ascending = await _all(site, [("all_tenants", "1"), ("sort_key", "updated_at"),
                                  ("sort_dir", "asc")], limit=1000)
    assert [s["id"] for s in ascending] == [s["id"] for s in sorted(
        everything, key=lambda s: (_epoch(s["updated"]), s["id"]))]
    # the same orders sorted the slow way (an extra key the site keeps no order for)
    slow = await _all(site, [("all_tenants", "1"), ("sort_key", "updated_at"),
                             ("sort_dir", "desc"), ("sort_key", "uuid"), ("sort_dir", "asc"),
                             ("sort_key", "display_name"), ("sort_dir", "asc")], limit=1000)
    assert [s["id"] for s in slow] == by_update
    alices = await _all(site, [("sort_key", "uuid"), ("sort_dir", "asc")], as_="alice",
                        limit=400)
    assert [s["id"] for s in alices] == sorted(s["id"] for s in everything
                                               if s["tenant_id"] == "p-one")


async def test_changes_since_sees_a_transition_that_ended_while_nobody_looked():
    site = await start_site(preload_servers=50, build_seconds=4.0)
    try:
        (row,) = (await site.compute("GET", "/servers", as_="alice",
                                     params={"name": "^pre-site1-1$"})).body["servers"]
        asked = int(site.clock())
        assert (await server_action(site, row["id"], {"os-stop": None})).status == 202
        site.clock.advance(3)      # the stop ended (2 s) and nobody read the server since
        since = [("all_tenants", "1"), ("changes-since", _iso(asked + 1))]
        changed = await _all(site, since)
        assert [(s["id"], s["status"]) for s in changed] == [(row["id"], "SHUTOFF")]
        newest = await site.compute("GET", "/servers/detail", as_="admin", params=[
            ("all_tenants", "1"), ("sort_key", "updated_at"), ("limit", "1")])
        assert newest.body["servers"][0]["id"] == row["id"]
    finally:
        await site.close()
