"""sync.sweep: servers a site no longer has are marked deleted at the top;
leftovers of interrupted creates are deleted in the site, orphans left
alone; deleted servers are purged after their retention, not before their
site is done with them."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from cascade.errors import NotFound
from cascade.resources.kinds import STAMP_KEY
from cascade.routing import request_ids
from cascade.sync import jobs as sync_jobs
from cascade.sync.jobs import CHANGES, SWEEP
from tests.unit.sync.test_changes import wait_status


async def test_a_sweep_waits_for_the_first_poll_and_does_not_repeat_itself(harness):
    h = harness
    assert "never polled" in (await h.run(SWEEP, "site1"))["skipped"]
    await h.run(CHANGES, "site1")
    assert (await h.run(SWEEP, "site1"))["skipped"] == "swept lately"


@pytest.mark.sync(sweep_period=0.0)
async def test_servers_the_site_no_longer_has_are_marked_deleted(harness):
    h = harness
    doomed, kept = [(await h.create(name))["server"]["id"] for name in ("doomed", "kept")]
    await wait_status(h, "site1", kept, "ACTIVE")
    await h.run(CHANGES, "site1")
    assert (await h.site("site1", "demo", "DELETE", f"/servers/{await h.bottom_id(doomed)}"))[0] == 204
    await asyncio.sleep(0.05)
    result = await h.run(SWEEP, "site1")
    assert result["deleted"] == 1 and result["servers"] == 1
    row = await h.rt.servers.get(doomed)
    assert row.deleted and row.status == "DELETED"
    assert (await h.rt.routes.resolve("server", doomed)).state == "deleting"
    assert not (await h.rt.servers.get(kept)).deleted
    assert (await h.run(SWEEP, "site1"))["deleted"] == 0


@pytest.mark.sync(sweep_period=0.0)
async def test_leftovers_of_interrupted_creates_are_deleted_and_orphans_left_alone(harness, monkeypatch):
    h = harness
    monkeypatch.setattr(sync_jobs, "leftover_grace", lambda rt: 0.0)
    await h.run(CHANGES, "site1")
    _, flavors = await h.site("site1", "demo", "GET", "/flavors")
    async with h.http.get(f"{h.world.site('site1').image_url}/v2/images?name=cirros",
                          headers={"X-Auth-Token": await h.token("demo")}) as response:
        images = await response.json()
    tiny = next(f["id"] for f in flavors["flavors"] if f["name"] == "m1.tiny")
    image = next(i["id"] for i in images["images"] if i["name"] == "cirros")

    async def straight(name: str, stamp: str | None) -> str:
        spec = {"name": name, "flavorRef": tiny, "imageRef": image}
        if stamp:
            spec["metadata"] = {STAMP_KEY: stamp}
        status, body = await h.site("site1", "demo", "POST", "/servers", {"server": spec})
        assert status == 202, body
        return body["server"]["id"]

    leftover = await straight("leftover", str(uuid.uuid4()))
    orphan = await straight("orphan", None)
    busy_stamp = str(uuid.uuid4())
    busy = await straight("busy", busy_stamp)
    await h.rt.jobs.enqueue("server.create", {"top_id": busy_stamp, "site_id": h.site_ids["site1"]})
    reserved_stamp = await h.rt.routes.reserve("server", site_id=h.site_ids["site1"], project_id=None)
    reserved = await straight("reserved", reserved_stamp)
    await asyncio.sleep(1.1)   # older than the site's clock at their create, to the second

    result = await h.run(SWEEP, "site1")
    assert result["leftovers"] == 1
    for bottom_id, expected in ((leftover, 404), (orphan, 200), (busy, 200), (reserved, 200)):
        status, body = await h.site("site1", "admin", "GET", f"/servers/{bottom_id}")
        assert status == expected or (expected == 404 and body["server"]["status"] == "DELETED"), (bottom_id, body)


@pytest.mark.sync(sweep_period=0.0, deleted_retention=0.0)
async def test_deleted_servers_are_purged_with_their_request_ids_once_the_site_is_done(harness):
    h = harness
    fast = (await h.create("fast"))["server"]["id"]
    slow = (await h.create("slow", zone="site2"))["server"]["id"]
    await wait_status(h, "site1", fast, "ACTIVE")
    await wait_status(h, "site2", slow, "ACTIVE")
    for zone in ("site1", "site2"):
        await h.run(CHANGES, zone)
    fast_bottom = await h.bottom_id(fast)
    assert (await h.cascade("demo", "POST", f"/compute/v2.1/servers/{fast}/action", {"os-stop": None}))[0] == 202
    await wait_status(h, "site1", fast, "SHUTOFF")
    for top_id in (fast, slow):
        assert (await h.cascade("demo", "DELETE", f"/compute/v2.1/servers/{top_id}"))[0] == 204
    _, actions = await h.site("site1", "admin", "GET", f"/servers/{fast_bottom}/os-instance-actions",
                              microversion="2.21")
    site_requests = [a["request_id"] for a in actions["instanceActions"]]
    assert len(await h.rt.routes.top_ids(request_ids.KIND, h.site_ids["site1"], site_requests)) == 3
    await asyncio.sleep(0.05)

    assert (await h.run(SWEEP, "site1"))["purged"] == 1
    with pytest.raises(NotFound):
        await h.rt.routes.resolve("server", fast)
    with pytest.raises(NotFound):
        await h.rt.servers.get(fast)
    assert await h.rt.routes.top_ids(request_ids.KIND, h.site_ids["site1"], site_requests) == {}

    # site2 is still deleting its server: it stays, as the site still lists it
    assert (await h.run(SWEEP, "site2"))["purged"] == 0
    assert (await h.rt.routes.resolve("server", slow)).state == "deleting"
    assert (await h.rt.servers.get(slow)).deleted
