"""The `site.adopt` job against a simulated site: servers of every tenant
adopted in batches under new top ids, stamped, their owners' key pairs
adopted; a second run adopts nothing twice; a run that dies halfway
resumes after its last batch; a key pair clash is reported, not
overwritten."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from cascade.adoption import jobs as adoption_jobs
from cascade.adoption import servers as adoption_servers
from cascade.persistence.models import RouteRow
from cascade.resources.kinds import STAMP_KEY
from tests.unit.adoption.conftest import PAGE

PUBLIC_KEY = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0l"
              "RE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYc"
              "pSxsIbECHw== adoption-test")
OTHER_KEY = PUBLIC_KEY.replace("adoption-test", "other").replace("AAAAgQDx8", "AAAAgQDy8")


async def route_count(h, kind: str = "server") -> int:
    async with h.rt.db.session() as session:
        return await session.scalar(select(func.count()).select_from(RouteRow).where(RouteRow.kind == kind))


async def adopt(h, server_ids=None) -> dict:
    site = h.rt.registry.get(h.site_id)
    job = await adoption_jobs.start(h.rt, site, server_ids)
    await h.run_jobs()
    done = await h.rt.jobs.get(job.id)
    assert done.state == "succeeded", (done.state, done.last_error)
    return done.result


async def test_a_site_is_adopted_in_batches_under_new_ids(harness):
    h = harness
    mine = [await h.make_server("demo", f"demo-{n}") for n in range(4)]
    status, _ = await h.site("demo", "POST", "/os-keypairs", {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}})
    assert status in (200, 201)
    keyed = await h.make_server("demo", "demo-keyed", key_name="k1")
    theirs = [await h.make_server("alt", f"alt-{n}") for n in range(2)]
    await h.add_site()

    result = await adopt(h)

    bottoms = [*mine, keyed, *theirs]
    assert (result["adopted"], result["skipped"], result["failed"]) == (7, 0, 0)
    assert result["stamp_jobs"] == 3          # 7 servers in pages of 3
    tops = await h.rt.routes.top_ids("server", h.site_id, bottoms)
    assert set(tops) == set(bottoms) and not set(tops.values()) & set(bottoms)
    demo_rows = await h.rt.servers.list_for_project(await _project_of(h, mine[0]))
    assert {row.top_id for row in demo_rows} == {tops[b] for b in [*mine, keyed]}
    flavor_ids = {row.flavor_id for row in demo_rows}
    assert flavor_ids <= {f.id for f in await h.rt.flavors.list(is_public=None)}
    # every adopted server now carries its top id in the site
    for bottom in bottoms:
        _, body = await h.site("admin", "GET", f"/servers/{bottom}")
        assert body["server"]["metadata"][STAMP_KEY] == tops[bottom]
    # the key pair became the user's top key pair, routed to the site's copy
    demo_user = (await h.rt.servers.get(tops[keyed])).user_id
    keypair = await h.rt.keypairs.get(demo_user, "k1")
    assert keypair.public_key == PUBLIC_KEY and result["keypairs"]["adopted"] == 1
    assert await h.rt.routes.bottom_ids("keypair", h.site_id, [keypair.id]) == {keypair.id: f"{demo_user}/k1"}


async def _project_of(h, bottom_id: str) -> str:
    _, body = await h.site("admin", "GET", f"/servers/{bottom_id}")
    return body["server"]["tenant_id"]


async def test_the_tenant_sees_adopted_servers_under_top_ids_only(harness):
    h = harness
    bottom = await h.make_server("demo", "seen")
    other = await h.make_server("alt", "unseen")
    await h.add_site()
    await adopt(h)
    top = (await h.rt.routes.top_ids("server", h.site_id, [bottom]))[bottom]
    status, listed = await h.cascade("demo", "GET", "/compute/v2.1/servers/detail")
    assert status == 200
    assert [s["id"] for s in listed["servers"]] == [top]
    text = str(listed)
    assert bottom not in text and other not in text and STAMP_KEY not in text
    status, shown = await h.cascade("alt", "GET", f"/compute/v2.1/servers/{top}")
    assert status == 404


async def test_adopting_again_adopts_nothing_twice(harness):
    h = harness
    for n in range(5):
        await h.make_server("demo", f"s{n}")
    await h.add_site()
    await adopt(h)
    before = await route_count(h)
    again = await adopt(h)
    assert (again["adopted"], again["skipped"]) == (0, 5)
    assert await route_count(h) == before == 5


async def test_a_run_that_dies_resumes_after_its_last_batch(harness, monkeypatch):
    h = harness
    for n in range(3 * PAGE):
        await h.make_server("demo", f"s{n}")
    await h.add_site()
    prepared = []
    real_prepare = adoption_servers.prepare

    async def dying_prepare(rt, site, page):
        prepared.append([s["id"] for s in page])
        if len(prepared) == 2:
            raise ConnectionResetError("the worker's process died here")
        return await real_prepare(rt, site, page)

    monkeypatch.setattr(adoption_servers, "prepare", dying_prepare)
    site = h.rt.registry.get(h.site_id)
    job = await adoption_jobs.start(h.rt, site)
    await h.run_jobs()
    done = await h.rt.jobs.get(job.id)
    assert done.state == "succeeded" and done.attempts == 2
    assert (done.result["adopted"], done.result["skipped"]) == (3 * PAGE, 0)
    # the second run started at the batch that died, not at the first page
    assert prepared[2] == prepared[1] and len(prepared) == 4
    assert await route_count(h) == 3 * PAGE


async def test_a_run_that_lost_its_job_commits_nothing(harness, monkeypatch):
    h = harness
    for n in range(PAGE):
        await h.make_server("demo", f"s{n}")
    await h.add_site()
    site = h.rt.registry.get(h.site_id)
    job = await adoption_jobs.start(h.rt, site)
    real_prepare = adoption_servers.prepare

    async def cancelled_meanwhile(rt, site, page):
        await rt.jobs.cancel(job.id)
        return await real_prepare(rt, site, page)

    monkeypatch.setattr(adoption_servers, "prepare", cancelled_meanwhile)
    await h.run_jobs()
    assert (await h.rt.jobs.get(job.id)).state == "cancelled"
    assert await route_count(h) == 0 and await h.rt.servers.list_for_project(None) == []


async def test_a_key_pair_clash_is_reported_not_overwritten(harness):
    h = harness
    await h.site("demo", "POST", "/os-keypairs", {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}})
    bottom = await h.make_server("demo", "keyed", key_name="k1")
    _, body = await h.site("admin", "GET", f"/servers/{bottom}")
    user_id = body["server"]["user_id"]
    await h.add_site()
    mine = await h.rt.keypairs.add(user_id=user_id, name="k1", public_key=OTHER_KEY, fingerprint="x")
    result = await adopt(h)
    assert result["keypairs"]["clashes"] == 1 and result["keypairs"]["clashing"] == [f"{user_id}/k1"]
    assert (await h.rt.keypairs.get(user_id, "k1")).public_key == OTHER_KEY
    assert await h.rt.routes.bottom_ids("keypair", h.site_id, [mine.id]) == {}


@pytest.mark.parametrize("body, status", [({"servers": []}, 400), ({"servers": "x"}, 400), ({"bogus": 1}, 400),
                                          ({"stamp": "no"}, 400)])
async def test_bad_adoption_requests_get_the_admin_api_error(harness, body, status):
    h = harness
    await h.add_site()
    code, answer = await h.cascade("admin", "POST", "/cascade/v1/sites/site1/adopt", body)
    assert code == status and answer["error"]["message"]


async def test_adoption_is_the_admins_and_one_at_a_time(harness):
    h = harness
    await h.add_site()
    assert (await h.cascade("demo", "POST", "/cascade/v1/sites/site1/adopt"))[0] == 403
    assert (await h.cascade("demo", "GET", "/cascade/v1/sites/site1/orphans"))[0] == 403
    assert (await h.cascade("admin", "POST", "/cascade/v1/sites/nowhere/adopt"))[0] == 404
    code, first = await h.cascade("admin", "POST", "/cascade/v1/sites/site1/adopt")
    assert code == 202 and first["job"]["kind"] == "site.adopt"
    code, same = await h.cascade("admin", "POST", "/cascade/v1/sites/site1/adopt")
    assert code == 202 and same["job"]["id"] == first["job"]["id"]
    code, other = await h.cascade("admin", "POST", "/cascade/v1/sites/site1/adopt", {"servers": ["x"]})
    assert code == 409 and first["job"]["id"] in other["error"]["message"]


async def test_a_server_nova_cannot_stamp_now_is_adopted_unstamped(harness):
    h = harness
    shelved = await h.make_server("demo", "shelved")
    status, _ = await h.site("demo", "POST", f"/servers/{shelved}/action", {"shelve": None})
    assert status == 202
    for _ in range(50):
        _, body = await h.site("demo", "GET", f"/servers/{shelved}")
        if body["server"]["status"].startswith("SHELVED"):
            break
        await asyncio.sleep(0.05)
    await h.add_site()
    result = await adopt(h)
    assert (result["adopted"], result["unstamped"], result["stamp_jobs"]) == (1, 1, 0)
    _, body = await h.site("demo", "GET", f"/servers/{shelved}")
    assert STAMP_KEY not in body["server"]["metadata"]
    # unshelved, it is found routed but unstamped by the next run, which stamps it
    await h.site("demo", "POST", f"/servers/{shelved}/action", {"unshelve": None})
    for _ in range(50):
        _, body = await h.site("demo", "GET", f"/servers/{shelved}")
        if body["server"]["status"] == "ACTIVE":
            break
        await asyncio.sleep(0.05)
    again = await adopt(h)
    assert (again["adopted"], again["skipped"], again["stamp_jobs"]) == (0, 1, 1)
    _, body = await h.site("demo", "GET", f"/servers/{shelved}")
    top = (await h.rt.routes.top_ids("server", h.site_id, [shelved]))[shelved]
    assert body["server"]["metadata"][STAMP_KEY] == top


async def test_servers_made_while_the_walk_goes_on_are_adopted_too(harness, monkeypatch):
    h = harness
    for n in range(PAGE):
        await h.make_server("demo", f"before-{n}")
    await h.add_site()
    real_prepare = adoption_servers.prepare
    late = []

    async def meanwhile(rt, site, page):
        if not late:
            await asyncio.sleep(1.05)   # sites order by creation time to the second, then by id
            late.append(await h.make_server("alt", "made-during-the-adoption"))
        return await real_prepare(rt, site, page)

    monkeypatch.setattr(adoption_servers, "prepare", meanwhile)
    result = await adopt(h)
    assert result["adopted"] == PAGE + 1
    assert late[0] in await h.rt.routes.top_ids("server", h.site_id, late)
