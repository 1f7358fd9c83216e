"""sync.changes: what a site changed since its watermark reaches the
projection; the first poll sweeps; a site's 5xx to changes-since falls back
to a sweep; a down site is left alone with its last known state."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from cascade.errors import SiteUnavailable
from cascade.jobs.registry import Retry
from cascade.persistence.models import utcnow
from cascade.persistence.servers import parse_timestamp
from cascade.resources.kinds import STAMP_KEY
from cascade.sites.client import SiteClient, SiteResponse
from cascade.sync import jobs as sync_jobs
from cascade.sync.jobs import CHANGES, OVERLAP, SWEEP
from tests.dbfixtures import BACKENDS


async def wait_status(h, zone: str, top_id: str, status: str) -> dict:
    for _ in range(200):
        server = await h.at_site(zone, top_id)
        if server["status"] == status and not server.get("OS-EXT-STS:task_state"):
            return server
        await asyncio.sleep(0.05)
    raise AssertionError(f"{top_id} never {status}")


async def polled(h, name: str) -> str:
    """A server made through the cascade, ACTIVE in site1, and a poll
    after it (the site's first: a sweep); its top id."""
    top_id = (await h.create(name))["server"]["id"]
    await wait_status(h, "site1", top_id, "ACTIVE")
    await h.run(CHANGES, "site1")
    return top_id


@pytest.mark.parametrize("harness", BACKENDS, indirect=True)
async def test_a_status_change_in_the_site_reaches_the_projection(harness):
    h = harness
    made = [(await h.create(f"vm{n}"))["server"]["id"] for n in range(3)]
    for top_id in made:
        await wait_status(h, "site1", top_id, "ACTIVE")
    first = await h.run(CHANGES, "site1")
    assert first["first_poll"] == "sweep" and first["servers"] == 3 and first["pages"] == 2
    assert {(await h.rt.servers.get(t)).status for t in made} == {"ACTIVE"}
    watermark = (await h.sync_state.get(h.site_ids["site1"])).changes_since
    assert watermark is not None

    # stopped and renamed straight in the site, by its own user
    target = made[1]
    bottom = await h.bottom_id(target)
    assert (await h.site("site1", "demo", "POST", f"/servers/{bottom}/action", {"os-stop": None}))[0] == 202
    assert (await h.site("site1", "demo", "PUT", f"/servers/{bottom}", {"server": {"name": "renamed"}}))[0] == 200
    shown = await wait_status(h, "site1", target, "SHUTOFF")
    result = await h.run(CHANGES, "site1")
    assert result["written"] >= 1 and result["deleted"] == 0 and "first_poll" not in result
    row = await h.rt.servers.get(target)
    assert (row.status, row.name, row.task_state, row.updated) == ("SHUTOFF", "renamed", None, shown["updated"])
    assert row.synced_at is not None
    state = await h.sync_state.get(h.site_ids["site1"])
    assert parse_timestamp(state.changes_since) >= parse_timestamp(shown["updated"])
    assert state.polled_at is not None and state.last_error is None

    # only what changed since the watermark (less the overlap) is asked for and written
    await asyncio.sleep(1.1)
    asked = utcnow().replace(microsecond=0)
    again = await h.run(CHANGES, "site1")
    assert again["written"] == 0
    assert parse_timestamp(again["since"]) == parse_timestamp(state.changes_since) - OVERLAP
    # the watermark is the site's clock when it answered, not its last change: a
    # quiet site is not asked for that change again and again
    moved = parse_timestamp((await h.sync_state.get(h.site_ids["site1"])).changes_since)
    assert moved >= asked > parse_timestamp(shown["updated"])


async def test_a_poll_that_finds_no_change_moves_the_watermark_to_the_sites_clock(harness, monkeypatch):
    # else a site quiet since its last burst (the top-id stamps of an
    # adoption) keeps a watermark behind them, and nothing can tell that
    # the sync has looked past them
    h = harness
    monkeypatch.setattr(sync_jobs, "OVERLAP", dt.timedelta(0))
    await polled(h, "quiet")
    await asyncio.sleep(1.1)     # the site's times are to the second: past the server's own
    await h.run(CHANGES, "site1")
    before = parse_timestamp((await h.sync_state.get(h.site_ids["site1"])).changes_since)
    await asyncio.sleep(1.1)
    asked = utcnow().replace(microsecond=0)
    result = await h.run(CHANGES, "site1")
    assert (result["servers"], result["pages"], result["written"]) == (0, 0, 0)
    after = parse_timestamp((await h.sync_state.get(h.site_ids["site1"])).changes_since)
    assert after >= asked > before


async def test_a_change_that_moves_only_updated_is_not_rewritten(harness):
    # metadata written in the site (as the top-id stamp is, on every server)
    # moves `updated` and nothing the projection follows
    h = harness
    top_id = await polled(h, "steady")
    before = await h.rt.servers.get(top_id)
    await asyncio.sleep(1.1)
    path = f"/servers/{await h.bottom_id(top_id)}/metadata"
    assert (await h.site("site1", "demo", "POST", path, {"metadata": {"k": "v"}}))[0] == 200
    moved = await h.at_site("site1", top_id)
    assert parse_timestamp(moved["updated"]) > parse_timestamp(before.updated)

    result = await h.run(CHANGES, "site1")
    assert result["servers"] >= 1 and result["written"] == 0
    assert (await h.rt.servers.get(top_id)).updated == before.updated

    # a followed change brings the site's `updated` along
    assert (await h.site("site1", "demo", "PUT", f"/servers/{await h.bottom_id(top_id)}",
                         {"server": {"name": "renamed"}}))[0] == 200
    renamed = await h.at_site("site1", top_id)
    assert (await h.run(CHANGES, "site1"))["written"] == 1
    row = await h.rt.servers.get(top_id)
    assert (row.name, row.updated) == ("renamed", renamed["updated"])


async def test_a_server_deleted_in_the_site_is_marked_deleted_at_the_top(harness):
    h = harness
    _, group = await h.cascade("demo", "POST", "/compute/v2.1/os-server-groups",
                               {"server_group": {"name": "g", "policies": ["anti-affinity"]}})
    top_id = (await h.create("doomed"))["server"]["id"]
    kept = (await h.create("kept"))["server"]["id"]
    await h.rt.server_groups.add_members(group["server_group"]["id"], [top_id])
    await wait_status(h, "site1", top_id, "ACTIVE")
    await h.run(CHANGES, "site1")
    status, _ = await h.site("site1", "demo", "DELETE", f"/servers/{await h.bottom_id(top_id)}")
    assert status == 204
    await asyncio.sleep(0.05)
    result = await h.run(CHANGES, "site1")
    assert result["deleted"] == 1
    row = await h.rt.servers.get(top_id)
    assert row.deleted and row.status == "DELETED"
    assert (await h.rt.routes.resolve("server", top_id)).state == "deleting"
    assert (await h.rt.server_groups.get(group["server_group"]["id"])).members == ()
    assert not (await h.rt.servers.get(kept)).deleted
    # the tenant's view follows: a show is a 404, the list leaves it out
    assert (await h.cascade("demo", "GET", f"/compute/v2.1/servers/{top_id}"))[0] == 404
    _, listed = await h.cascade("demo", "GET", "/compute/v2.1/servers")
    assert top_id not in {s["id"] for s in listed["servers"]}
    # seen again within the overlap: nothing more to do
    assert (await h.run(CHANGES, "site1"))["deleted"] == 0


async def test_servers_of_one_multi_create_are_stamped_with_their_own_top_ids(harness):
    h = harness
    await h.create("many", min_count=3)
    tops = [row.top_id for row in await h.rt.servers.list_for_project(None) if row.name.startswith("many")]
    assert len(tops) == 3
    # the site made them all with one metadata: one top id's stamp, or none
    made_with = {top_id: (await wait_status(h, "site1", top_id, "ACTIVE"))["metadata"].get(STAMP_KEY)
                 for top_id in tops}
    assert len(set(made_with.values())) == 1
    result = await h.run(CHANGES, "site1")
    assert result["stamped"] == sum(1 for top_id, stamp in made_with.items() if stamp != top_id) >= 2
    for top_id in tops:
        assert (await h.at_site("site1", top_id))["metadata"].get(STAMP_KEY) == top_id
    # the stamp stays the cascade's: the tenant never sees it
    _, shown = await h.cascade("demo", "GET", f"/compute/v2.1/servers/{tops[0]}")
    assert STAMP_KEY not in shown["server"]["metadata"]
    assert (await h.run(CHANGES, "site1"))["stamped"] == 0


async def test_a_5xx_to_changes_since_falls_back_to_a_sweep(harness, monkeypatch):
    h = harness
    top_id = await polled(h, "vm")
    real = SiteClient.service_request

    async def refusing(self, service, method, path, **kw):
        if "changes-since" in (kw.get("params") or {}):
            return SiteResponse(500, {}, {"computeFault": {"code": 500, "message": "boom"}}, "")
        return await real(self, service, method, path, **kw)

    monkeypatch.setattr(SiteClient, "service_request", refusing)
    assert (await h.site("site1", "demo", "POST", f"/servers/{await h.bottom_id(top_id)}/action",
                         {"os-stop": None}))[0] == 202
    await wait_status(h, "site1", top_id, "SHUTOFF")
    result = await h.run(CHANGES, "site1")
    assert result["fallback"] == "sweep" and result["sweep"] is True
    assert (await h.rt.servers.get(top_id)).status == "SHUTOFF"


async def test_a_down_site_is_not_asked_and_keeps_its_last_known_state(harness):
    h = harness
    top_id = await polled(h, "vm")
    before = await h.rt.servers.get(top_id)

    await h.world.site("site1").set_faults({"down": True})
    with pytest.raises(Retry) as unreachable:
        await h.run(CHANGES, "site1")
    assert unreachable.value.delay == h.rt.settings.sync.changes_period
    assert "unavailable" in (await h.sync_state.get(h.site_ids["site1"])).last_error
    await h.rt.registry.update(h.site_ids["site1"], health="down")
    for kind, period in ((CHANGES, h.rt.settings.sync.changes_period), (SWEEP, h.rt.settings.sync.sweep_period)):
        with pytest.raises(Retry) as down:
            await h.run(kind, "site1")
        assert down.value.delay == period and "down" in str(down.value)
    assert await h.rt.servers.get(top_id) == before

    # a list of the down site's servers from 2.69 comes from the projection
    _, listed = await h.cascade("demo", "GET", "/compute/v2.1/servers/detail", microversion="2.69")
    partial = {s["id"]: s for s in listed["servers"]}
    assert partial[top_id]["status"] == "UNKNOWN" and partial[top_id]["created"] == before.created

    # the site is let back: the next poll catches up
    await h.world.site("site1").clear_faults()
    await h.rt.registry.update(h.site_ids["site1"], health="up")
    h.rt.registry.client(h.site_ids["site1"]).breaker.record_success()
    assert (await h.run(CHANGES, "site1"))["site"] == "site1"
    assert (await h.sync_state.get(h.site_ids["site1"])).last_error is None


@pytest.mark.sync(sweep_period=0.0)
async def test_a_site_that_cannot_be_reached_mid_poll_is_retried_a_period_later(harness, monkeypatch):
    h = harness
    await h.run(CHANGES, "site1")

    async def unreachable(self, *a, **kw):
        raise SiteUnavailable("Availability zone site1 is unavailable: it did not answer.", site="site1")

    monkeypatch.setattr(SiteClient, "service_request", unreachable)
    with pytest.raises(Retry):
        await h.run(CHANGES, "site1")
    with pytest.raises(Retry):
        await h.run(SWEEP, "site1")


async def test_servers_a_live_job_names_are_left_to_it(harness):
    """An adoption's stamp job (or a create's recovery) owns its servers:
    the sync does not stamp them behind its back."""
    h = harness
    await h.create("pair", min_count=2)
    tops = [row.top_id for row in await h.rt.servers.list_for_project(None) if row.name.startswith("pair")]
    for top_id in tops:
        await wait_status(h, "site1", top_id, "ACTIVE")
    owned = await h.bottom_id(tops[0])
    before = (await h.at_site("site1", tops[0]))["metadata"]
    await h.rt.jobs.enqueue("site.stamp", {"site_id": h.site_ids["site1"], "servers": [[tops[0], owned]]},
                            delay=3600)
    # the other server is stamped by this run, or was already by the create's own stamp job
    assert (await h.run(CHANGES, "site1"))["stamped"] <= 1
    assert (await h.at_site("site1", tops[0]))["metadata"] == before
    assert (await h.at_site("site1", tops[1]))["metadata"][STAMP_KEY] == tops[1]
