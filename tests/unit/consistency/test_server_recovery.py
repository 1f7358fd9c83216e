"""Recovery of interrupted server creates and deletes, against simcloud
sites: each test leaves a journal entry as a process that died at one step
would, runs the worker, and checks the site and the cascade's records."""
from __future__ import annotations

import asyncio
import subprocess
import uuid

import pytest

from cascade.consistency import servers as recovery
from cascade.jobs import owner
from cascade.jobs.journal import EntryLost
from cascade.persistence.servers import ProjectedServer
from cascade.resources.kinds import STAMP_KEY


def dead_owner() -> str:
    """The lease owner of a process of this host that has exited."""
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{owner.host()}:{process.pid}:gone"


async def interrupted(rt, kind: str, payload: dict):
    return await rt.jobs.begin(kind, payload, owner=dead_owner(), lease_seconds=60)


async def route_state(rt, site, top_id: str) -> str | None:
    routes = [r for r in await rt.routes.routes_of("server", top_id) if r.site_id == site.site_id]
    return routes[0].state if routes else None


async def projected(rt, site, top_id: str, project_id: str) -> None:
    await rt.servers.upsert(ProjectedServer(
        top_id=top_id, site_id=site.site_id, project_id=project_id, user_id="u", name="n", status="BUILD",
        flavor_id="f", created="2024-01-01T00:00:00Z"))


async def test_a_create_cut_after_its_post_is_removed_from_the_site(rt, worker, site):
    top_id, project = str(uuid.uuid4()), await site.project_id()
    job = await interrupted(rt, recovery.CREATE, {"top_id": top_id, "site_id": site.site_id, "project_id": project})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)
    bottom = await site.boot("cut-after-post", metadata={STAMP_KEY: top_id})

    await worker.run_once()
    done = await rt.jobs.get(job.id)
    assert done.state == "succeeded" and done.result == {"deleted": [bottom["id"]]}
    assert await site.server(bottom["id"]) is None
    assert await route_state(rt, site, top_id) is None


async def test_a_create_cut_after_binding_is_undone_at_the_top_too(rt, worker, site):
    top_id, project = str(uuid.uuid4()), await site.project_id()
    bottom = await site.boot("cut-after-bind", metadata={STAMP_KEY: top_id})
    await interrupted(rt, recovery.CREATE, {"top_id": top_id, "site_id": site.site_id, "project_id": project,
                                            "bottom_id": bottom["id"]})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)
    await rt.routes.bind("server", top_id, site.site_id, bottom["id"])
    await projected(rt, site, top_id, project)

    await worker.run_once()
    assert await site.server(bottom["id"]) is None
    assert await route_state(rt, site, top_id) is None
    assert not [s for s in await rt.servers.list_for_project(project, include_deleted=True) if s.top_id == top_id]


async def test_a_post_that_lands_after_the_first_look_is_still_removed(rt, worker, site):
    """Nothing in the site at first: recovery looks again once a site call's
    deadline has passed, and finds the server the late POST made."""
    top_id, project = str(uuid.uuid4()), await site.project_id()
    job = await interrupted(rt, recovery.CREATE, {"top_id": top_id, "site_id": site.site_id, "project_id": project})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)

    await worker.run_once()
    waiting = await rt.jobs.get(job.id)
    assert waiting.state == "queued" and "may still reach the site" in waiting.last_error
    assert await route_state(rt, site, top_id) == "reserved"
    late = await site.boot("late-post", metadata={STAMP_KEY: top_id})

    await asyncio.sleep(rt.settings.sites.request_timeout + 0.1)
    await worker.run_once()
    assert (await rt.jobs.get(job.id)).result == {"deleted": [late["id"]]}
    assert await site.server(late["id"]) is None
    assert await route_state(rt, site, top_id) is None


async def test_a_create_that_made_nothing_forgets_its_route_after_the_deadline(rt, worker, site):
    top_id, project = str(uuid.uuid4()), await site.project_id()
    job = await interrupted(rt, recovery.CREATE, {"top_id": top_id, "site_id": site.site_id, "project_id": project})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)
    await worker.run_once()
    await asyncio.sleep(rt.settings.sites.request_timeout + 0.1)
    await worker.run_once()
    assert (await rt.jobs.get(job.id)).result == {"deleted": []}
    assert await route_state(rt, site, top_id) is None


async def test_another_servers_stamp_is_left_alone(rt, worker, site):
    top_id, project = str(uuid.uuid4()), await site.project_id()
    other = await site.boot("someone-else", metadata={STAMP_KEY: str(uuid.uuid4())})
    plain = await site.boot("made-in-the-site")
    await interrupted(rt, recovery.CREATE, {"top_id": top_id, "site_id": site.site_id, "project_id": project})
    await worker.run_once()
    assert await site.server(other["id"]) is not None and await site.server(plain["id"]) is not None


async def test_servers_made_together_are_found_by_their_shared_stamp(rt, worker, site):
    stamp, project = str(uuid.uuid4()), await site.project_id()
    await interrupted(rt, recovery.CREATE_MANY, {"stamp": stamp, "site_id": site.site_id, "project_id": project})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=stamp)
    await site.boot("together", metadata={STAMP_KEY: stamp}, count=3)
    made = await site.named("together(-[0-9]+)?")
    assert len(made) == 3

    await worker.run_once()
    assert await site.named("together(-[0-9]+)?") == []
    assert await route_state(rt, site, stamp) is None


async def test_servers_made_together_are_found_by_reservation_and_unbound(rt, worker, site):
    stamp, project = str(uuid.uuid4()), await site.project_id()
    reservation = (await site.boot("reserved", metadata={STAMP_KEY: stamp}, count=2))["reservation_id"]
    made = sorted(await site.named("reserved(-[0-9]+)?"), key=lambda s: s["name"])
    top_ids = [stamp, str(uuid.uuid4())]
    await interrupted(rt, recovery.CREATE_MANY, {"stamp": stamp, "site_id": site.site_id, "project_id": project,
                                                 "reservation_id": reservation, "top_ids": top_ids})
    for top_id, bottom in zip(top_ids, made):
        await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)
        await rt.routes.bind("server", top_id, site.site_id, bottom["id"])
        await projected(rt, site, top_id, project)

    await worker.run_once()
    assert await site.named("reserved(-[0-9]+)?") == []
    for top_id in top_ids:
        assert await route_state(rt, site, top_id) is None
    assert not {s.top_id for s in await rt.servers.list_for_project(project, include_deleted=True)} & set(top_ids)


async def test_a_delete_cut_before_the_site_heard_it_is_sent_again(rt, worker, site):
    top_id, project = str(uuid.uuid4()), await site.project_id()
    bottom = await site.boot("to-delete", metadata={STAMP_KEY: top_id})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)
    await rt.routes.bind("server", top_id, site.site_id, bottom["id"])
    await projected(rt, site, top_id, project)
    await interrupted(rt, recovery.DELETE, {"top_id": top_id, "site_id": site.site_id, "bottom_id": bottom["id"],
                                            "project_id": project})

    await worker.run_once()
    assert await route_state(rt, site, top_id) == "deleting"
    assert (await rt.servers.get(top_id)).deleted
    for _ in range(50):
        if await site.server(bottom["id"]) is None:
            break
        await asyncio.sleep(0.05)
    assert await site.server(bottom["id"]) is None


async def test_a_delete_the_tenant_heard_fail_follows_the_site(rt, worker, site):
    """The tenant was told the site could not be reached: if the site did
    not delete the server, it stays, routed."""
    top_id, project = str(uuid.uuid4()), await site.project_id()
    bottom = await site.boot("kept", metadata={STAMP_KEY: top_id})
    await rt.routes.reserve("server", site_id=site.site_id, project_id=project, top_id=top_id)
    await rt.routes.bind("server", top_id, site.site_id, bottom["id"])
    job = await interrupted(rt, recovery.DELETE, {"top_id": top_id, "site_id": site.site_id,
                                                  "bottom_id": bottom["id"], "project_id": project,
                                                  "answered": "error"})
    await worker.run_once()
    assert (await rt.jobs.get(job.id)).result == {"deleted": False}
    assert await route_state(rt, site, top_id) == "bound"
    assert await site.server(bottom["id"]) is not None


async def test_an_entry_its_recovery_took_over_does_not_end_as_a_success(rt, worker, site):
    """A process that stalled past its lease must not answer as if its
    create succeeded: the recovery owns the outcome."""
    top_id, project = str(uuid.uuid4()), await site.project_id()
    with pytest.raises(EntryLost):
        async with rt.journal.entry(recovery.CREATE, {"top_id": top_id, "site_id": site.site_id,
                                                      "project_id": project}) as entry:
            await rt.jobs.expire_leases([rt.journal.owner])
            (taken,) = await rt.jobs.claim("another-worker", lease_seconds=60)
            assert taken.id == entry.id
