"""Sites' copies of flavors, key pairs and server groups carried to the
top's state (`consistency.copies`), against simcloud sites: at once when
the site answers, by a retried job when it does not, whatever changed
meanwhile; and a project's own quota in a site opened at its first
placement there (`consistency.site_quotas`)."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from cascade.consistency import copies, site_quotas


async def copy_of(rt, kind: str, top_id: str, site) -> str | None:
    return (await rt.routes.bottom_ids(kind, site.site_id, [top_id])).get(top_id)


async def new_flavor(rt, **extra):
    return await rt.flavors.add(name=f"copied-{uuid.uuid4().hex[:8]}", vcpus=1, ram=64, disk=1, **extra)


def project(world, name: str) -> str:
    return world.keystone.store.project_by_name(name, "default").id


async def live_jobs(rt, kind: str) -> list:
    return [job for state in ("queued", "running") for job in await rt.jobs.list(state=state, kind=kind)]


@pytest.fixture
async def down(world, site):
    """Take the first site down for a while: `await down(True)` ... `await down(False)`."""
    handle = world.sites[0]

    async def switch(is_down: bool) -> None:
        await handle.set_faults({"down": is_down})
    yield switch
    await handle.clear_faults()


async def test_a_flavor_change_reaches_the_copy_at_once(rt, worker, site, world):
    demo, alt = project(world, "demo"), project(world, "alt")
    flavor = await new_flavor(rt, is_public=False, description="first", extra_specs={"a": "1", "gone": "x"})
    await rt.flavors.add_access(flavor.id, demo)
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    bottom = await copy_of(rt, "flavor", flavor.id, site)
    assert bottom is not None and bottom != flavor.id
    assert (await site.call("GET", f"/flavors/{bottom}/os-extra_specs")).body["extra_specs"] == {"a": "1", "gone": "x"}

    await rt.flavors.set_extra_specs(flavor.id, {"a": "2", "b": "3"}, replace=True)
    await rt.flavors.set_description(flavor.id, "second")
    await rt.flavors.add_access(flavor.id, alt)
    await rt.flavors.remove_access(flavor.id, demo)
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    assert (await site.call("GET", f"/flavors/{bottom}/os-extra_specs")).body["extra_specs"] == {"a": "2", "b": "3"}
    shown = await site.call("GET", f"/flavors/{bottom}", microversion="2.55")
    assert shown.body["flavor"]["description"] == "second"
    access = await site.call("GET", f"/flavors/{bottom}/os-flavor-access")
    assert {g["tenant_id"] for g in access.body["flavor_access"]} == {alt}
    assert not await live_jobs(rt, copies.FLAVOR)


async def test_a_site_that_is_down_gets_the_change_from_the_job_later(rt, worker, site, down):
    flavor = await new_flavor(rt)
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    bottom = await copy_of(rt, "flavor", flavor.id, site)

    await down(True)
    await rt.flavors.set_extra_specs(flavor.id, {"hw:cpu_policy": "dedicated"})
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    (job,) = await live_jobs(rt, copies.FLAVOR)
    assert job.key == f"{copies.FLAVOR}:{flavor.id}:{site.site_id}"
    await worker.run_once()
    assert (await rt.jobs.get(job.id)).state == "queued", "retried while the site is down"

    # a change made meanwhile goes out with the same job
    await rt.flavors.set_extra_specs(flavor.id, {"hw:numa_nodes": "1"})
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    assert [j.id for j in await live_jobs(rt, copies.FLAVOR)] == [job.id]

    await down(False)
    for _ in range(50):
        await worker.run_once()
        if (await rt.jobs.get(job.id)).state == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert (await rt.jobs.get(job.id)).state == "succeeded"
    specs = (await site.call("GET", f"/flavors/{bottom}/os-extra_specs")).body["extra_specs"]
    assert specs == {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "1"}


async def test_a_deleted_flavors_copy_goes(rt, worker, site):
    flavor = await new_flavor(rt)
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    bottom = await copy_of(rt, "flavor", flavor.id, site)
    await rt.flavors.delete(flavor.id)
    await copies.carry(rt, copies.FLAVOR, flavor.id, [site.site_id])
    assert (await site.call("GET", f"/flavors/{bottom}")).status == 404
    assert await copy_of(rt, "flavor", flavor.id, site) is None


async def test_a_deleted_key_pairs_copy_goes_for_its_user(rt, worker, site):
    user_id = "u-" + uuid.uuid4().hex[:8]
    public_key = (await site.call("POST", "/os-keypairs", json={"keypair": {"name": "probe"}})).body["keypair"]
    await site.call("DELETE", "/os-keypairs/probe")
    keypair = await rt.keypairs.add(user_id=user_id, name="shared-name", public_key=public_key["public_key"],
                                    fingerprint=public_key["fingerprint"])
    made = await site.call("POST", "/os-keypairs", microversion="2.10", json={"keypair": {
        "name": "shared-name", "public_key": keypair.public_key, "user_id": user_id}})
    assert made.status in (200, 201), made.text
    await rt.routes.reserve("keypair", site_id=site.site_id, project_id=None, top_id=keypair.id)
    await rt.routes.bind("keypair", keypair.id, site.site_id, f"{user_id}/shared-name")

    await rt.keypairs.delete(user_id, "shared-name")
    await copies.carry(rt, copies.KEYPAIR, keypair.id, [site.site_id], user_id=user_id, name="shared-name")
    shown = await site.call("GET", "/os-keypairs/shared-name", microversion="2.10", params={"user_id": user_id})
    assert shown.status == 404
    assert await copy_of(rt, "keypair", keypair.id, site) is None


async def test_a_deleted_groups_copies_go_the_routed_one_and_a_lost_one(rt, worker, site):
    group = await rt.server_groups.add(name="g", project_id="p", user_id="u", policy="anti-affinity")
    name = copies.bottom_group_name(group.id)
    routed, lost = [(await site.call("POST", "/os-server-groups", json={"server_group": {
        "name": name, "policies": ["anti-affinity"]}})).body["server_group"]["id"] for _ in range(2)]
    await rt.routes.reserve("server_group", site_id=site.site_id, project_id="p", top_id=group.id)
    await rt.routes.bind("server_group", group.id, site.site_id, routed)
    other = (await site.call("POST", "/os-server-groups", json={"server_group": {
        "name": "not-ours", "policies": ["affinity"]}})).body["server_group"]["id"]

    await copies.carry(rt, copies.SERVER_GROUP, group.id, [site.site_id])
    assert (await site.call("GET", f"/os-server-groups/{routed}")).status == 200, "kept while the group lives"

    await rt.server_groups.delete(group.id)
    await copies.carry(rt, copies.SERVER_GROUP, group.id, [site.site_id])
    assert (await site.call("GET", f"/os-server-groups/{routed}")).status == 404
    assert (await site.call("GET", f"/os-server-groups/{lost}")).status == 404
    assert (await site.call("GET", f"/os-server-groups/{other}")).status == 200
    assert await copy_of(rt, "server_group", group.id, site) is None


async def test_a_projects_quota_in_a_site_is_opened_once(rt, worker, site, world):
    demo = project(world, "demo")
    await site.call("DELETE", f"/os-quota-sets/{demo}")     # the site's defaults (the world serves both backends)
    assert (await site.call("GET", f"/os-quota-sets/{demo}")).body["quota_set"]["instances"] != -1
    await site_quotas.ensure_open(rt, rt.registry.get(site.site_id), demo)
    # open at once, before the placement that needs it goes on: no worker has run
    shown = (await site.call("GET", f"/os-quota-sets/{demo}")).body["quota_set"]
    assert {key: shown[key] for key in site_quotas.UNLIMITED} == site_quotas.UNLIMITED
    await site_quotas.ensure_open(rt, rt.registry.get(site.site_id), demo)
    assert not await live_jobs(rt, site_quotas.OPEN), "nothing more to do once open"
