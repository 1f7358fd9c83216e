"""Server list semantics of the simulated Nova: filters, default and
explicit sort orders, limit/marker pagination with next links, and the 400s
for bad markers and sort keys."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def _names(site, path="/servers", **params):
    reply = await site.compute("GET", path, version="2.96", params=params)
    assert reply.status == 200, reply.body
    return [s["name"] for s in reply.body["servers"]]


async def _boot_apart(site, *names, **extra) -> list[str]:
    """Servers created a second apart, so that the default order is defined."""
    ids = []
    for name in names:
        ids.append(await site.boot(name, **extra))
        site.clock.advance(1)
    return ids


async def test_default_order_is_newest_first_then_by_uuid_within_one_second(site):
    await _boot_apart(site, "a", "b")
    same = {await site.boot(name): name for name in ("c", "d", "e")}   # the clock stands still
    by_uuid = [same[i] for i in sorted(same)]
    assert await _names(site) == by_uuid + ["b", "a"]
    assert await _names(site, sort_dir="asc") == ["a", "b"] + by_uuid
    # a marker inside the second goes on in uuid order, then to the older seconds
    first = sorted(same)[0]
    assert await _names(site, marker=first) == by_uuid[1:] + ["b", "a"]
    assert await _names(site, marker=first, limit="1") == by_uuid[1:2]


async def test_limit_marker_and_next_links_walk_every_server_once(site):
    for i in range(7):
        await site.boot(f"vm{i}")
        site.clock.advance(1)
    seen, params = [], {"limit": "3"}
    while True:
        reply = await site.compute("GET", "/servers/detail", version="2.96", params=params)
        seen += [s["name"] for s in reply.body["servers"]]
        links = reply.body.get("servers_links")
        if not links:
            break
        query = parse_qs(urlsplit(links[0]["href"]).query)
        assert urlsplit(links[0]["href"]).path.endswith("/compute/v2.1/servers/detail")
        params = {k: v[0] for k, v in query.items()}
    assert seen == [f"vm{i}" for i in range(6, -1, -1)]


async def test_next_link_keeps_the_query_sorted_with_the_marker_last(site):
    for name in ("a", "b", "c"):
        await site.boot(name)
    reply = await site.compute("GET", "/servers", version="2.96",
                               params=[("name", "."), ("limit", "2")])
    href = reply.body["servers_links"][0]["href"]
    assert urlsplit(href).query == f"limit=2&name=.&marker={reply.body['servers'][-1]['id']}"


async def test_a_full_page_without_limit_has_a_link_only_at_max_limit(site):
    await site.boot("solo")
    reply = await site.compute("GET", "/servers")
    assert "servers_links" not in reply.body


async def test_unknown_marker_is_400_and_a_deleted_one_still_works(site):
    ids = await _boot_apart(site, "vm0", "vm1", "vm2")
    reply = await site.compute("GET", "/servers", params={"marker": "nope"})
    assert reply.status == 400
    assert reply.body["badRequest"]["message"] == "marker [nope] not found"
    await site.compute("DELETE", f"/servers/{ids[1]}")
    site.settle()
    assert await _names(site, marker=ids[1]) == ["vm0"]


async def test_sort_keys(site):
    await _boot_apart(site, "bravo", "alpha", "charlie")
    assert await _names(site, sort_key="display_name", sort_dir="asc") == [
        "alpha", "bravo", "charlie"]
    assert await _names(site, sort_key="display_name") == ["charlie", "bravo", "alpha"]
    # Nova's quirk: its uuid tie breaker takes the second direction, "asc"
    two_keys = [("sort_key", "vm_state"), ("sort_key", "display_name"), ("sort_dir", "desc")]
    quirk = await site.compute("GET", "/servers", version="2.96", params=two_keys)
    assert [s["name"] for s in quirk.body["servers"]] == ["alpha", "bravo", "charlie"]
    first = await _names(site, sort_key="display_name", sort_dir="asc", limit="1")
    marker_id = (await site.compute("GET", "/servers", params={"name": "^alpha$"})
                 ).body["servers"][0]["id"]
    assert first == ["alpha"]
    assert await _names(site, sort_key="display_name", sort_dir="asc",
                        marker=marker_id) == ["bravo", "charlie"]
    # before 2.75 an ignored key drops out, leaving the default order; then it is a 400
    ignored = await site.compute("GET", "/servers", version="2.74", params={"sort_key": "vcpus"})
    assert [s["name"] for s in ignored.body["servers"]] == ["charlie", "alpha", "bravo"]
    rejected = await site.compute("GET", "/servers", version="2.75", params={"sort_key": "vcpus"})
    assert rejected.status == 400


async def test_bad_sort_parameters_are_rejected(site):
    bad_key = await site.compute("GET", "/servers", params={"sort_key": "color"})
    assert bad_key.status == 400
    assert "Invalid input for query parameters sort_key" in bad_key.body["badRequest"]["message"]
    bad_dir = await site.compute("GET", "/servers", params={"sort_dir": "up"})
    assert bad_dir.status == 400
    host = await site.compute("GET", "/servers", params={"sort_key": "host"})
    assert host.status == 403
    strict = await site.compute("GET", "/servers", version="2.75", params={"color": "red"})
    assert strict.status == 400
    lax = await site.compute("GET", "/servers", version="2.74", params={"color": "red"})
    assert lax.status == 200


async def test_filters(site):
    web = await site.boot("web-1", tags=["front", "prod"])
    site.clock.advance(1)
    await site.boot("web-2", tags=["front"])
    site.clock.advance(1)
    db = await site.boot("db-1", flavor="m1.small", tags=["prod"])
    site.settle()
    assert await _names(site, name="^web") == ["web-2", "web-1"]
    assert await _names(site, flavor=site.flavor_id("m1.small")) == ["db-1"]
    assert await _names(site, flavor="no-such-flavor") == []
    assert await _names(site, image=site.image_id("cirros")) == ["db-1", "web-2", "web-1"]
    assert await _names(site, tags="front,prod") == ["web-1"]
    assert await _names(site, **{"tags-any": "prod"}) == ["db-1", "web-1"]
    assert await _names(site, **{"not-tags": "front,prod"}) == ["db-1", "web-2"]
    assert await _names(site, **{"not-tags-any": "front"}) == ["db-1"]
    address = (await site.compute("GET", f"/servers/{db}")).body["server"]["addresses"][
        "private"][0]["addr"]
    assert await _names(site, ip=address.replace(".", r"\.") + "$") == ["db-1"]
    await site.compute("POST", f"/servers/{web}/action", json={"os-stop": None})
    assert await _names(site, status="SHUTOFF") == []      # still powering-off
    site.settle()
    assert await _names(site, status="SHUTOFF") == ["web-1"]
    assert await _names(site, status="ACTIVE") == ["db-1", "web-2"]
    bad = await site.compute("GET", "/servers", version="2.38", params={"status": "SLEEPY"})
    assert bad.status == 400 and bad.body["badRequest"]["message"] == "Invalid status value"
    old = await site.compute("GET", "/servers", version="2.37", params={"status": "SLEEPY"})
    assert old.body == {"servers": []}
    await site.compute("POST", f"/servers/{db}/action", version="2.73", json={"lock": None})
    assert await _names(site, locked="true") == ["db-1"]
    assert await _names(site, locked="false") == ["web-2", "web-1"]


async def test_changes_since_and_before(site):
    old = await site.boot("old")
    site.settle()
    site.clock.advance(100)
    cut = site.clock.now
    site.clock.advance(1.5)
    await site.boot("new")
    from datetime import datetime, timezone
    stamp = datetime.fromtimestamp(cut, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await _names(site, **{"changes-since": stamp}) == ["new"]
    assert await _names(site, **{"changes-before": stamp}) == ["old"]
    reversed_range = await site.compute("GET", "/servers", version="2.66", params={
        "changes-since": stamp, "changes-before": "2000-01-01T00:00:00Z"})
    assert reversed_range.status == 400
    await site.compute("PUT", f"/servers/{old}", json={"server": {"name": "touched"}})
    assert sorted(await _names(site, **{"changes-since": stamp})) == ["new", "touched"]


async def test_admin_only_filters_are_ignored_for_tenants(site):
    await site.boot("mine")
    assert await _names(site, host="elsewhere") == ["mine"]
    admin = await site.compute("GET", "/servers", as_="admin",
                               params={"all_tenants": "1", "host": "elsewhere"})
    assert admin.body["servers"] == []


async def test_only_admins_list_deleted_servers(site):
    server_id = await site.boot("gone")
    await site.compute("DELETE", f"/servers/{server_id}")
    site.settle()
    denied = await site.compute("GET", "/servers", params={"status": "DELETED"})
    assert denied.status == 403
    listed = await site.compute("GET", "/servers", as_="admin",
                                params={"all_tenants": "1", "status": "DELETED"})
    assert [s["id"] for s in listed.body["servers"]] == [server_id]


async def test_a_deleted_server_has_lost_its_metadata_tags_and_ports(site):
    server_id = await site.boot("gone", metadata={"k": "v"}, tags=["t"])
    site.settle()
    await site.compute("DELETE", f"/servers/{server_id}")
    site.settle()
    reply = await site.compute("GET", "/servers/detail", version="2.96",
                               params={"changes-since": "2000-01-01T00:00:00Z"})
    (gone,) = reply.body["servers"]
    assert gone["status"] == "DELETED"
    assert (gone["metadata"], gone["tags"], gone["addresses"]) == ({}, [], {})
    assert "security_groups" not in gone and gone["name"] == "gone"
