"""Private flavors of the simulated Nova: the access list and its actions
with Nova's errors, and who sees and boots a private flavor."""
from __future__ import annotations

import pytest

from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def _flavor(site, flavor_id, *, public):
    reply = await site.compute("POST", "/flavors", as_="admin", json={"flavor": {
        "name": flavor_id, "id": flavor_id, "ram": 64, "vcpus": 1, "disk": 1,
        "os-flavor-access:is_public": public}})
    assert reply.status == 200, reply.body
    return site.site.store.flavors[flavor_id]


async def _act(site, flavor_id, body, *, as_="admin", version="2.1"):
    return await site.compute("POST", f"/flavors/{flavor_id}/action", json=body, as_=as_,
                              version=version)


def _message(reply):
    return next(iter(reply.body.values()))["message"]


async def test_access_list_and_its_errors(site):
    private = await _flavor(site, "priv", public=False)
    await _flavor(site, "pub", public=True)
    listed = await site.compute("GET", "/flavors/priv/os-flavor-access", as_="admin")
    assert (listed.status, listed.body) == (200, {"flavor_access": []})
    added = await _act(site, "priv", {"addTenantAccess": {"tenant": "p-one"}})
    assert added.body == {"flavor_access": [{"flavor_id": "priv", "tenant_id": "p-one"}]}
    for reply, status, message in (
        (await site.compute("GET", "/flavors/priv/os-flavor-access"), 403,
         "Policy doesn't allow os_compute_api:os-flavor-access to be performed."),
        (await site.compute("GET", "/flavors/pub/os-flavor-access", as_="admin"), 404,
         "Access list not available for public flavors."),
        (await site.compute("GET", "/flavors/nope/os-flavor-access", as_="admin"), 404,
         "Flavor nope could not be found."),
        (await _act(site, "priv", {"addTenantAccess": {"tenant": "p-one"}}), 409,
         f"Flavor access already exists for flavor {private.internal_id} and project p-one "
         "combination."),
        (await _act(site, "priv", {"addTenantAccess": {"tenant": "p-nowhere"}}), 400,
         "Project ID p-nowhere is not a valid project."),
        (await _act(site, "priv", {"addTenantAccess": {"tenant": "p-two"}}, as_="alice"), 403,
         "Policy doesn't allow os_compute_api:os-flavor-access:add_tenant_access to be "
         "performed."),
        (await _act(site, "pub", {"addTenantAccess": {"tenant": "p-one"}}, version="2.7"), 409,
         "Can not add access to a public flavor."),
        (await _act(site, "priv", {"fly": {}}), 400, "There is no such action: fly"),
        (await _act(site, "priv", {"addTenantAccess": {}}), 400,
         "Invalid input for field/attribute addTenantAccess. Value: {}. 'tenant' is a "
         "required property"),
        (await _act(site, "priv", {"removeTenantAccess": {"tenant": "p-nowhere"}}), 404,
         f"Flavor access not found for {private.internal_id} / p-nowhere combination."),
    ):
        assert (reply.status, _message(reply)) == (status, message)
    before_2_7 = await _act(site, "pub", {"addTenantAccess": {"tenant": "p-one"}}, version="2.6")
    assert before_2_7.status == 200, "stored for a public flavor before 2.7"
    removed = await _act(site, "priv", {"removeTenantAccess": {"tenant": "p-one"}})
    assert removed.body == {"flavor_access": []}
    again = await _act(site, "priv", {"removeTenantAccess": {"tenant": "p-one"}})
    assert again.status == 404


async def test_a_granted_project_sees_and_boots_a_private_flavor(site):
    await _flavor(site, "priv", public=False)
    await _act(site, "priv", {"addTenantAccess": {"tenant": "p-one"}})
    assert (await site.compute("GET", "/flavors/priv")).status == 200
    assert (await site.compute("GET", "/flavors/priv", as_="carol")).status == 404
    names = [f["id"] for f in (await site.compute("GET", "/flavors")).body["flavors"]]
    assert "priv" in names
    carol = [f["id"] for f in (await site.compute("GET", "/flavors", as_="carol")).body["flavors"]]
    assert "priv" not in carol
    specs = await site.compute("GET", "/flavors/priv/os-extra_specs")
    assert specs.status == 200
    assert await site.boot("granted", flavor="priv")
    refused = await site.compute("POST", "/servers", as_="carol", version="2.96", json={
        "server": {"name": "x", "imageRef": site.image_id("cirros"), "flavorRef": "priv",
                   "networks": "none"}})
    assert (refused.status, _message(refused)) == (400, "Flavor priv could not be found.")


async def test_is_public_filter_for_admins(site):
    await _flavor(site, "priv", public=False)
    await _flavor(site, "mine", public=False)
    await _act(site, "mine", {"addTenantAccess": {"tenant": "p-admin"}})

    async def ids(value):
        params = {} if value is None else {"is_public": value}
        reply = await site.compute("GET", "/flavors", as_="admin", params=params)
        return {f["id"] for f in reply.body["flavors"]}
    default = await ids(None)
    assert "mine" in default and "priv" not in default and "m1.tiny" in {
        site.site.store.flavors[f].name for f in default}
    assert await ids("false") == {"priv", "mine"}
    assert {"priv", "mine"} <= await ids("none")
    bad = await site.compute("GET", "/flavors", as_="admin", params={"is_public": "maybe"})
    assert (bad.status, _message(bad)) == (400, "Invalid is_public filter [maybe]")
