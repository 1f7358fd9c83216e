"""Server groups through the cascade: Nova's shapes per microversion, project
scoping, and members placed by the group's policy across sites, with the
sites' own groups checked straight in the sites."""
from __future__ import annotations

import uuid

import openstack
import pytest
import yaml

from tests.functional.helpers import STAMP, flavor_id, image_id

PATH = "/os-server-groups"


def fault(response, status: int) -> str:
    assert response.status_code == status, response.text
    (body,) = response.json().values()
    assert body["code"] == status
    return body["message"]


def create_group(conn, policy: str, *, microversion: str = "2.64", **extra) -> dict:
    spec = {"name": f"cascade-test-sg-{uuid.uuid4().hex[:8]}", **extra}
    if int(microversion.split(".")[1]) >= 64:
        spec["policy"] = policy
    else:
        spec["policies"] = [policy]
    response = conn.compute.post(PATH, json={"server_group": spec}, microversion=microversion)
    assert response.status_code == 200, response.text
    return response.json()["server_group"]


@pytest.fixture(scope="module")
def site_admins(demo):
    auth = yaml.safe_load(demo.clouds.read_text())["clouds"]["cascade-admin"]["auth"]
    return {zone: openstack.connect(auth=auth, region_name=zone, identity_api_version="3") for zone in demo.zones}


@pytest.fixture(scope="module")
def sites_keep_groups(site_admins) -> bool:
    """Whether the sites serve os-server-groups (simcloud may not yet)."""
    return all(conn.compute.get(PATH).status_code == 200 for conn in site_admins.values())


def test_shapes_per_microversion(cloud):
    old = create_group(cloud, "anti-affinity", microversion="2.1")
    assert old == {"id": old["id"], "name": old["name"], "policies": ["anti-affinity"], "metadata": {},
                   "members": []}
    new = create_group(cloud, "anti-affinity", rules={"max_server_per_host": "2"})
    assert new == {"id": new["id"], "name": new["name"], "policy": "anti-affinity",
                   "rules": {"max_server_per_host": 2}, "members": [],
                   "project_id": cloud.current_project_id, "user_id": cloud.current_user_id}
    shown = cloud.compute.get(f"{PATH}/{old['id']}", microversion="2.13").json()["server_group"]
    assert shown["policies"] == ["anti-affinity"] and shown["project_id"] == cloud.current_project_id
    assert cloud.compute.get(f"{PATH}/{new['id']}", microversion="2.64").json()["server_group"] == new
    for group in (old, new):
        deleted = cloud.compute.delete(f"{PATH}/{group['id']}")
        assert deleted.status_code == 204
        assert fault(cloud.compute.get(f"{PATH}/{group['id']}"), 404) == \
            f"Instance group {group['id']} could not be found."


def test_bad_requests_are_refused_as_nova_does(cloud):
    def refused(spec, microversion):
        return fault(cloud.compute.post(PATH, json={"server_group": spec}, microversion=microversion), 400)

    assert refused({"name": "x", "policies": ["soft-affinity"]}, "2.14")
    assert create_group(cloud, "soft-affinity", microversion="2.15")["policies"] == ["soft-affinity"]
    assert refused({"name": "x", "policies": ["affinity", "anti-affinity"]}, "2.15")
    assert refused({"name": "x", "policy": "affinity"}, "2.63")
    assert refused({"name": "x", "policies": ["affinity"]}, "2.64")
    assert refused({"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}, "2.64") == \
        "Only anti-affinity policy supports rules."
    assert refused({"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}, "2.64")
    assert refused({"name": " x", "policy": "affinity"}, "2.64").startswith("An invalid 'name' value")
    assert "Additional properties" in fault(cloud.compute.get(f"{PATH}?foo=1", microversion="2.75"), 400)
    assert cloud.compute.get(f"{PATH}?foo=1", microversion="2.74").status_code == 200


def test_groups_belong_to_their_project(demo, cloud, alt, admin):
    mine = create_group(cloud, "affinity")
    theirs = create_group(alt, "anti-affinity")
    try:
        listed = {g["id"] for g in cloud.compute.get(PATH).json()["server_groups"]}
        assert mine["id"] in listed and theirs["id"] not in listed
        assert fault(cloud.compute.get(f"{PATH}/{theirs['id']}"), 404) == \
            f"Instance group {theirs['id']} could not be found."
        assert fault(cloud.compute.delete(f"{PATH}/{theirs['id']}"), 404)
        everyone = {g["id"] for g in cloud.compute.get(f"{PATH}?all_projects=True").json()["server_groups"]}
        assert theirs["id"] not in everyone, "all_projects is for admins only"
        every = {g["id"] for g in admin.compute.get(f"{PATH}?all_projects=True").json()["server_groups"]}
        assert {mine["id"], theirs["id"]} <= every
        assert admin.compute.get(f"{PATH}/{theirs['id']}").status_code == 200
        # the other project's group cannot be named in a create either
        assert fault(boot_in_group(demo, cloud, theirs["id"]), 400) == \
            f"Instance group {theirs['id']} could not be found."
    finally:
        cloud.compute.delete(f"{PATH}/{mine['id']}")
        alt.compute.delete(f"{PATH}/{theirs['id']}")


def test_limit_and_offset(cloud):
    made = [create_group(cloud, "affinity") for _ in range(3)]
    try:
        ours = [g["id"] for g in cloud.compute.get(PATH).json()["server_groups"]]
        assert [g["id"] for g in cloud.compute.get(f"{PATH}?limit=2").json()["server_groups"]] == ours[:2]
        assert [g["id"] for g in cloud.compute.get(f"{PATH}?offset=1&limit=1").json()["server_groups"]] == ours[1:2]
        assert "limit" in fault(cloud.compute.get(f"{PATH}?limit=-1"), 400)
    finally:
        for group in made:
            cloud.compute.delete(f"{PATH}/{group['id']}")


def boot_in_group(demo, conn, group_id: str, *, name: str | None = None):
    body = {"server": {"name": name or f"cascade-test-sgvm-{uuid.uuid4().hex[:6]}",
                       "flavorRef": flavor_id(conn, demo.tiny), "imageRef": image_id(conn, demo.image),
                       "networks": "none"},
            "os:scheduler_hints": {"group": group_id}}
    return conn.compute.post("/servers", json=body, microversion="2.71")


def bottom_of(sites: dict, top_id: str):
    for zone, conn in sites.items():
        for server in conn.compute.servers(details=True):
            if server.metadata.get(STAMP) == top_id:
                return zone, server
    return None, None


def test_a_malformed_or_unknown_group_hint_is_a_bad_request(demo, cloud):
    assert "is not a 'uuid'" in fault(boot_in_group(demo, cloud, "not-a-uuid"), 400)
    missing = str(uuid.uuid4())
    assert fault(boot_in_group(demo, cloud, missing), 400) == f"Instance group {missing} could not be found."


def test_affinity_members_share_one_site(demo, cloud, sites, site_admins, sites_keep_groups):
    group = create_group(cloud, "affinity")
    made = []
    try:
        if not sites_keep_groups:
            answer = boot_in_group(demo, cloud, group["id"])
            assert "cannot keep server groups" in fault(answer, 400)
            assert cloud.compute.get(f"{PATH}/{group['id']}").json()["server_group"]["members"] == []
            pytest.skip("the sites do not serve os-server-groups: members cannot be placed")
        for _ in range(3):
            answer = boot_in_group(demo, cloud, group["id"])
            assert answer.status_code == 202, answer.text
            made.append(answer.json()["server"]["id"])
        shown = cloud.compute.get(f"{PATH}/{group['id']}").json()["server_group"]
        assert sorted(shown["members"]) == sorted(made)
        zones = {bottom_of(sites, top_id)[0] for top_id in made}
        assert len(zones) == 1, f"affinity members in several sites: {zones}"
        (zone,) = zones
        bottom_groups = site_admins[zone].compute.get(f"{PATH}?all_projects=True").json()["server_groups"]
        (bottom,) = [g for g in bottom_groups if g["name"] == f"cascade-{group['id']}"]
        assert sorted(bottom["members"]) == sorted(bottom_of(sites, t)[1].id for t in made)
        server = cloud.compute.get(f"/servers/{made[0]}", microversion="2.71").json()["server"]
        assert server["server_groups"] == [group["id"]], "the site's group id is shown as the top one"
        cloud.compute.delete(f"/servers/{made[0]}")
        assert made[0] not in cloud.compute.get(f"{PATH}/{group['id']}").json()["server_group"]["members"]
    finally:
        for server_id in made:
            cloud.compute.delete(f"/servers/{server_id}")
        cloud.compute.delete(f"{PATH}/{group['id']}")


def test_anti_affinity_members_spread_over_sites(demo, cloud, sites, sites_keep_groups):
    if not sites_keep_groups:
        pytest.skip("the sites do not serve os-server-groups: members cannot be placed")
    group = create_group(cloud, "anti-affinity")
    made = []
    try:
        for _ in range(len(sites)):
            answer = boot_in_group(demo, cloud, group["id"])
            assert answer.status_code == 202, answer.text
            made.append(answer.json()["server"]["id"])
        zones = [bottom_of(sites, top_id)[0] for top_id in made]
        assert sorted(zones) == sorted(sites), f"one member per site: {zones}"
    finally:
        for server_id in made:
            cloud.compute.delete(f"/servers/{server_id}")
        cloud.compute.delete(f"{PATH}/{group['id']}")


def test_server_groups_quota(admin, alt):
    project = alt.current_project_id
    before = admin.compute.get(f"/os-quota-sets/{project}").json()["quota_set"]["server_groups"]
    existing = len(alt.compute.get(PATH).json()["server_groups"])
    made = []
    assert admin.compute.put(f"/os-quota-sets/{project}",
                             json={"quota_set": {"server_groups": existing + 1}}).status_code == 200
    try:
        made.append(create_group(alt, "affinity"))
        refused = alt.compute.post(PATH, json={"server_group": {"name": "over", "policy": "affinity"}},
                                   microversion="2.64")
        assert fault(refused, 403) == "Quota exceeded, too many server groups."
        absolute = alt.compute.get("/limits").json()["limits"]["absolute"]
        assert (absolute["maxServerGroups"], absolute["totalServerGroupsUsed"]) == (existing + 1, existing + 1)
    finally:
        for group in made:
            alt.compute.delete(f"{PATH}/{group['id']}")
        admin.compute.put(f"/os-quota-sets/{project}", json={"quota_set": {"server_groups": before}})
