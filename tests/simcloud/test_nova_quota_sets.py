"""Quota sets and quota classes of the simulated Nova: shapes per
microversion, policy, Nova's rules for updates (project and user limits),
and the 403s that enforce them."""
from __future__ import annotations

import pytest

from _nova_site import start_site

NOVA_DEFAULTS = {"instances": 10, "cores": 20, "ram": 51200, "key_pairs": 100,
                 "metadata_items": 128, "server_groups": 10, "server_group_members": 10}


@pytest.fixture
async def site():
    harness = await start_site(quotas=NOVA_DEFAULTS)
    yield harness
    await harness.close()


def _message(reply):
    return next(iter(reply.body.values()))["message"]


async def _put(site, values, *, project="p-one", version="2.57", as_="admin", params=None):
    return await site.compute("PUT", f"/os-quota-sets/{project}", as_=as_, version=version,
                              params=params, json={"quota_set": values})


async def test_shapes_per_microversion(site):
    old = (await site.compute("GET", "/os-quota-sets/p-one", version="2.1")).body["quota_set"]
    assert old == {"id": "p-one", "cores": 20, "fixed_ips": -1, "floating_ips": -1,
                   "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255,
                   "injected_files": 5, "instances": 10, "key_pairs": 100,
                   "metadata_items": 128, "ram": 51200, "security_group_rules": -1,
                   "security_groups": -1, "server_group_members": 10, "server_groups": 10}
    mid = (await site.compute("GET", "/os-quota-sets/p-one", version="2.36")).body["quota_set"]
    assert not {"fixed_ips", "floating_ips", "security_groups"} & set(mid)
    assert "injected_files" in mid
    new = (await site.compute("GET", "/os-quota-sets/p-one", version="2.57")).body["quota_set"]
    assert set(new) == {"id", *NOVA_DEFAULTS}
    await site.boot("vm", version="2.57")
    detail = (await site.compute("GET", "/os-quota-sets/p-one/detail", version="2.57")
              ).body["quota_set"]
    assert detail["instances"] == {"limit": 10, "in_use": 1, "reserved": 0}
    assert detail["cores"]["in_use"] == 1 and detail["key_pairs"]["in_use"] == 0
    defaults = await site.compute("GET", "/os-quota-sets/p-nowhere/defaults", version="2.57")
    assert defaults.body["quota_set"] == {"id": "p-nowhere", **NOVA_DEFAULTS}


async def test_policy_and_projects_keystone_does_not_have(site):
    for reply, status, message in (
        (await site.compute("GET", "/os-quota-sets/p-two"), 403,
         "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."),
        (await site.compute("GET", "/os-quota-sets/p-two/detail"), 403,
         "Policy doesn't allow os_compute_api:os-quota-sets:detail to be performed."),
        (await site.compute("GET", "/os-quota-sets/p-nowhere", as_="admin"), 400,
         "Project ID p-nowhere is not a valid project."),
        (await _put(site, {"instances": 5}, as_="alice"), 403,
         "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."),
        (await site.compute("DELETE", "/os-quota-sets/p-one"), 403,
         "Policy doesn't allow os_compute_api:os-quota-sets:delete to be performed."),
        (await site.compute("GET", "/os-quota-class-sets/default"), 403,
         "Policy doesn't allow os_compute_api:os-quota-class-sets:show to be performed."),
        (await site.compute("GET", "/os-quota-sets/p-one", version="2.75",
                            params={"nope": "1"}), 400,
         "Additional properties are not allowed ('nope' was unexpected)"),
    ):
        assert (reply.status, _message(reply)) == (status, message)


async def test_update_rules(site):
    await site.boot("a", version="2.57")
    await site.boot("b", version="2.57", as_="bob")
    for values, params, message in (
        ({"instances": 1}, None, "Quota limit 1 for instances must be greater than or equal "
                                 "to already used and reserved 2."),
        ({"instances": -2}, None, "Invalid input for field/attribute instances. Value: -2. "
                                  "-2 is less than the minimum of -1"),
        ({"floating_ips": 3}, None, "Invalid input for field/attribute quota_set. Value: "
                                    "{'floating_ips': 3}. Additional properties are not "
                                    "allowed ('floating_ips' was unexpected)"),
        ({"instances": 11}, {"user_id": "u-alice"},
         "Quota limit 11 for instances must be less than or equal to 10."),
    ):
        reply = await _put(site, values, params=params)
        assert (reply.status, _message(reply)) == (400, message)
    forced = await _put(site, {"instances": 1, "force": "true"})
    assert forced.status == 200 and "id" not in forced.body["quota_set"]
    assert forced.body["quota_set"]["instances"] == 1
    assert (await _put(site, {"instances": 10})).status == 200
    user = await _put(site, {"instances": 4}, params={"user_id": "u-alice"})
    assert user.body["quota_set"]["instances"] == 4
    # alice holds 4 of the 10, so bob may get at most the 6 left
    over = await _put(site, {"instances": 7}, params={"user_id": "u-bob"})
    assert _message(over) == "Quota limit 7 for instances must be less than or equal to 6."
    # the project may not go below what its users were given
    below = await _put(site, {"instances": 3})
    assert _message(below) == ("Quota limit 3 for instances must be greater than or equal to "
                               "already used and reserved 4.")
    shown = await site.compute("GET", "/os-quota-sets/p-one", params={"user_id": "u-alice"})
    assert shown.body["quota_set"]["instances"] == 4
    deleted = await site.compute("DELETE", "/os-quota-sets/p-one", as_="admin",
                                 params={"user_id": "u-alice"})
    assert deleted.status == 202
    shown = await site.compute("GET", "/os-quota-sets/p-one", params={"user_id": "u-alice"})
    assert shown.body["quota_set"]["instances"] == 10


async def test_classes(site):
    old = (await site.compute("GET", "/os-quota-class-sets/default", as_="admin")
           ).body["quota_class_set"]
    assert "server_groups" not in old and old["floating_ips"] == -1 and old["id"] == "default"
    updated = await site.compute("PUT", "/os-quota-class-sets/default", as_="admin",
                                 json={"quota_class_set": {"instances": 3,
                                                           "server_groups": 4}})
    assert updated.body["quota_class_set"]["instances"] == 3
    assert "server_groups" not in updated.body["quota_class_set"] and "id" not in \
        updated.body["quota_class_set"]
    new = (await site.compute("GET", "/os-quota-class-sets/default", as_="admin",
                              version="2.50")).body["quota_class_set"]
    assert (new["server_groups"], "floating_ips" in new) == (4, False)
    # the default class is every project's default
    quota = (await site.compute("GET", "/os-quota-sets/p-two", as_="carol")).body["quota_set"]
    assert quota["instances"] == 3
    assert (await site.compute("GET", "/limits", as_="carol")
            ).body["limits"]["absolute"]["maxTotalInstances"] == 3


async def test_enforcement(site):
    await _put(site, {"instances": 2, "cores": 20, "metadata_items": 1, "key_pairs": 0})
    await site.boot("a", version="2.57")
    several = await site.compute("POST", "/servers", version="2.57", json={"server": {
        "name": "m", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny"),
        "networks": "none", "min_count": 2, "max_count": 3}})
    assert (several.status, _message(several)) == (
        403, "Quota exceeded for instances: Requested 2-3, but already used 1 of 2 instances")
    fits = await site.compute("POST", "/servers", version="2.57", json={"server": {
        "name": "m", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny"),
        "networks": "none", "min_count": 1, "max_count": 3, "return_reservation_id": True}})
    made = await site.compute("GET", "/servers", params={
        "reservation_id": fits.body["reservation_id"]})
    assert len(made.body["servers"]) == 1, "as many as fit"
    meta = await site.compute("POST", "/servers", version="2.57", json={"server": {
        "name": "m", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny"),
        "networks": "none", "metadata": {"a": "1", "b": "2"}}})
    assert (meta.status, _message(meta)) == (403, "Maximum number of metadata items exceeds 1")
    key = await site.compute("POST", "/os-keypairs", version="2.57",
                             json={"keypair": {"name": "k"}})
    assert (key.status, _message(key)) == (403, "Quota exceeded, too many key pairs.")
    # a user's own limit refuses before the project's
    await _put(site, {"instances": 10})
    await _put(site, {"instances": 2}, params={"user_id": "u-alice"})
    mine = await site.compute("POST", "/servers", version="2.57", json={"server": {
        "name": "m", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny"),
        "networks": "none"}})
    assert _message(mine) == ("Quota exceeded for instances: Requested 1, but already used 2 "
                              "of 2 instances")
    assert (await site.compute("POST", "/servers", version="2.57", as_="bob", json={"server": {
        "name": "m", "imageRef": site.image_id("cirros"),
        "flavorRef": site.flavor_id("m1.tiny"), "networks": "none"}})).status == 202


async def test_resize_growth_is_checked(site):
    server_id = await site.boot("a", version="2.57")
    site.settle()
    used = (await site.compute("GET", "/os-quota-sets/p-one/detail")).body["quota_set"]
    await _put(site, {"ram": used["ram"]["in_use"]})
    small = site.flavor_id("m1.small")
    refused = await site.compute("POST", f"/servers/{server_id}/action",
                                 json={"resize": {"flavorRef": small}})
    assert (refused.status, _message(refused)) == (
        403, "Quota exceeded for ram: Requested 1536, but already used 512 of 512 ram")
    await _put(site, {"ram": 4096})
    assert (await site.compute("POST", f"/servers/{server_id}/action",
                               json={"resize": {"flavorRef": small}})).status == 202
    site.settle()
    detail = (await site.compute("GET", "/os-quota-sets/p-one/detail")).body["quota_set"]
    assert detail["ram"]["in_use"] == 2048

