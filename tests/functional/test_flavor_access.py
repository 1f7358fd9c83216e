"""Flavors as Nova's admins and tenants use them through the cascade: ids of
any JSON type, private flavors and their access lists, extra specs (with
2.86 validation), descriptions; and the copies every site holds of them."""
from __future__ import annotations

import random
import uuid

import openstack
import pytest
import yaml

from tests.functional.helpers import image_id, wait_for


@pytest.fixture(scope="module")
def site_admins(demo):
    """Admin connections straight at each site, by zone (private flavors are
    visible there to admins only)."""
    auth = yaml.safe_load(demo.clouds.read_text())["clouds"]["cascade-admin"]["auth"]
    return {zone: openstack.connect(auth=auth, region_name=zone, identity_api_version="3") for zone in demo.zones}


def make_flavor(admin, *, public: bool, **extra) -> dict:
    """A flavor made with a raw body as Tempest sends it: an integer id, a
    string is_public (and whatever else `extra` gives)."""
    body = {"name": f"cascade-test-fa-{uuid.uuid4().hex[:8]}", "ram": 64, "vcpus": 1, "disk": 1,
            "id": random.randint(10**8, 2 * 10**9), "os-flavor-access:is_public": "True" if public else "False",
            **extra}
    response = admin.compute.post("/flavors", json={"flavor": body})
    assert response.status_code == 200, response.text
    flavor = response.json()["flavor"]
    assert flavor["id"] == str(body["id"]), "Nova keeps the id as text"
    return flavor


def drop_flavor(admin, flavor_id: str) -> None:
    admin.compute.delete(f"/flavors/{flavor_id}")


def listed(conn, **params) -> set[str]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return {f["id"] for f in conn.compute.get(f"/flavors/detail?{query}").json()["flavors"]}


def fault(response, status: int) -> str:
    assert response.status_code == status, response.text
    (body,) = response.json().values()
    assert body["code"] == status
    return body["message"]


def copies(site_admins, name: str) -> dict:
    """{zone: the site's copy} of a flavor, seen by the site's admin."""
    found = {}
    for zone, conn in site_admins.items():
        for flavor in conn.compute.get("/flavors/detail?is_public=None").json()["flavors"]:
            if flavor["name"] == name:
                found[zone] = flavor
    return found


def test_flavor_create_takes_nova_field_types(admin, site_admins):
    flavor = make_flavor(admin, public=True, ram="1024", swap=512, rxtx_factor="2.5",
                         **{"OS-FLV-EXT-DATA:ephemeral": "3"})
    try:
        assert (flavor["ram"], flavor["swap"], flavor["rxtx_factor"], flavor["OS-FLV-EXT-DATA:ephemeral"]) == \
            (1024, 512, 2.5, 3)
        assert set(copies(site_admins, flavor["name"])) == set(site_admins), "copied to every site"
        for bad, words in (({"ram": "0"}, "0 is less than the minimum of 1"),
                           ({"id": " x"}, "does not match"),
                           ({"os-flavor-access:is_public": "maybe"}, "is not one of"),
                           ({"rxtx_factor": 0}, "less than or equal to the minimum of 0")):
            body = {"name": f"cascade-test-bad-{uuid.uuid4().hex[:6]}", "ram": 64, "vcpus": 1, "disk": 1, **bad}
            assert words in fault(admin.compute.post("/flavors", json={"flavor": body}), 400)
        again = {"name": f"cascade-test-dup-{uuid.uuid4().hex[:6]}", "ram": 64, "vcpus": 1, "disk": 1,
                 "id": int(flavor["id"])}
        assert fault(admin.compute.post("/flavors", json={"flavor": again}), 409) == \
            f"Flavor with ID {flavor['id']} already exists."
    finally:
        drop_flavor(admin, flavor["id"])


def test_private_flavor_is_seen_by_admins_and_granted_projects_only(admin, cloud, alt, site_admins):
    flavor = make_flavor(admin, public=False)
    fid, demo_project, alt_project = flavor["id"], cloud.current_project_id, alt.current_project_id
    try:
        assert flavor["os-flavor-access:is_public"] is False
        # admins list public flavors (and those granted to their project) by default
        assert fid not in listed(admin) and fid in listed(admin, is_public="false")
        assert fid in listed(admin, is_public="None") and fid not in listed(admin, is_public="true")
        for variation in ("f", "false", "no", "0", "FALSE", "off"):
            assert fid in listed(admin, is_public=variation)
        assert "Invalid is_public filter [maybe]" == fault(admin.compute.get("/flavors?is_public=maybe"), 400)
        assert fid not in listed(cloud) and fid not in listed(cloud, is_public="false"), "tenants cannot ask"
        assert fault(cloud.compute.get(f"/flavors/{fid}"), 404) == f"Flavor {fid} could not be found."

        granted = admin.compute.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": demo_project}})
        assert granted.status_code == 200
        assert granted.json() == {"flavor_access": [{"flavor_id": fid, "tenant_id": demo_project}]}
        assert fid in listed(cloud) and cloud.compute.get(f"/flavors/{fid}").status_code == 200
        assert fid not in listed(alt) and alt.compute.get(f"/flavors/{fid}").status_code == 404
        assert admin.compute.get(f"/flavors/{fid}/os-flavor-access").json() == granted.json()

        assert fault(admin.compute.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": demo_project}}),
                     409) == f"Flavor access already exists for flavor {fid} and project {demo_project} combination."
        assert "os-flavor-access:add_tenant_access" in fault(
            cloud.compute.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": alt_project}}), 403)
        assert "os-flavor-access:remove_tenant_access" in fault(
            cloud.compute.post(f"/flavors/{fid}/action", json={"removeTenantAccess": {"tenant": demo_project}}), 403)
        assert fault(cloud.compute.get(f"/flavors/{fid}/os-flavor-access"), 403)
        assert fault(admin.compute.post(f"/flavors/{fid}/action", json={"removeTenantAccess": {"tenant": alt_project}}),
                     404) == f"Flavor access not found for {fid} / {alt_project} combination."
        assert fault(admin.compute.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": "no-such"}}),
                     400) == "Project ID no-such is not a valid project."
        assert fault(admin.compute.post(f"/flavors/{fid}/action", json={"grant": {"tenant": alt_project}}), 400) == \
            "There is no such action: grant"

        site_copies = copies(site_admins, flavor["name"])
        assert set(site_copies) == set(site_admins)
        assert all(c["os-flavor-access:is_public"] is False and c["id"] != fid for c in site_copies.values())

        removed = admin.compute.post(f"/flavors/{fid}/action", json={"removeTenantAccess": {"tenant": demo_project}})
        assert removed.json() == {"flavor_access": []}
        assert fid not in listed(cloud)
    finally:
        drop_flavor(admin, fid)
    assert not copies(site_admins, flavor["name"]), "the site copies go with the flavor"


def test_access_lists_of_public_flavors(admin, cloud):
    flavor = make_flavor(admin, public=True)
    try:
        assert fault(admin.compute.get(f"/flavors/{flavor['id']}/os-flavor-access"), 404) == \
            "Access list not available for public flavors."
        grant = {"addTenantAccess": {"tenant": cloud.current_project_id}}
        assert fault(admin.compute.post(f"/flavors/{flavor['id']}/action", json=grant, microversion="2.7"), 409) == \
            "Can not add access to a public flavor."
    finally:
        drop_flavor(admin, flavor["id"])


def sites_grant_access(site_admins, name: str) -> bool:
    """Whether the sites serve os-flavor-access (simcloud may not yet), asked
    of their copies of the private flavor `name`."""
    return all(conn.compute.get(f"/flavors/{copy['id']}/os-flavor-access").status_code == 200
               for zone, copy in copies(site_admins, name).items() for conn in [site_admins[zone]])


def test_servers_boot_only_with_private_flavors_their_project_may_use(demo, admin, cloud, alt, sites, site_admins):
    flavor = make_flavor(admin, public=False)
    fid = flavor["id"]
    admin.compute.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": cloud.current_project_id}})
    body = {"server": {"name": f"cascade-test-priv-{uuid.uuid4().hex[:6]}", "flavorRef": fid,
                       "imageRef": image_id(cloud, demo.image), "networks": "none"}}
    try:
        assert fault(alt.compute.post("/servers", json=body, microversion="2.37"), 400) == \
            f"Flavor {fid} could not be found."
        made = cloud.compute.post("/servers", json=body, microversion="2.37")
        if not sites_grant_access(site_admins, flavor["name"]):
            # the site cannot be told the project may use its copy: it refuses,
            # and the refusal names the flavor as the tenant knows it
            assert fault(made, 400) == f"Flavor {fid} could not be found."
            pytest.skip("the sites do not serve os-flavor-access: a granted project cannot boot there")
        assert made.status_code == 202, made.text
        server_id = made.json()["server"]["id"]
        server = cloud.compute.wait_for_server(cloud.compute.get_server(server_id), status="ACTIVE", wait=60,
                                               interval=0.5)
        zone = server.availability_zone
        bottom = next(s for s in sites[zone].compute.servers(details=True) if s.name == body["server"]["name"])
        assert bottom.flavor.original_name == flavor["name"], "the site runs it on its own copy"
        assert cloud.compute.get(f"/servers/{server_id}").json()["server"]["flavor"]["id"] == fid
        cloud.compute.delete_server(server_id)
        cloud.compute.wait_for_delete(server, wait=60, interval=0.5)
    finally:
        drop_flavor(admin, fid)


def test_extra_specs_with_novas_checks_and_site_copies(admin, cloud, site_admins):
    flavor = make_flavor(admin, public=True)
    fid, path = flavor["id"], f"/flavors/{flavor['id']}/os-extra_specs"
    try:
        specs = {"hw:cpu_policy": "shared", "foo:bar": "baz", "hw:numa_nodes": 1}
        made = admin.compute.post(path, json={"extra_specs": specs}, microversion="2.86")
        assert made.status_code == 200 and made.json() == {"extra_specs": specs}, "echoed as sent"
        assert cloud.compute.get(path).json() == {"extra_specs": {**specs, "hw:numa_nodes": "1"}}
        assert cloud.compute.get(f"{path}/hw:cpu_policy").json() == {"hw:cpu_policy": "shared"}
        assert fault(cloud.compute.get(f"{path}/hw:cpu_thread_policy"), 404) == \
            f"Flavor {fid} has no extra specs with key hw:cpu_thread_policy."

        assert fault(admin.compute.post(path, json={"extra_specs": {"hw:cpu_policy": "bogus"}}, microversion="2.86"),
                     400) == "Validation failed; 'bogus' is not one of: dedicated, shared, mixed."
        assert fault(admin.compute.post(path, json={"extra_specs": {"hw:bogus": "1"}}, microversion="2.86"),
                     400) == "Validation failed; extra spec 'hw:bogus' does not appear to be a valid extra spec."
        assert fault(admin.compute.post(path, json={"extra_specs": {"hw:numa_nodes": "0"}}, microversion="2.86"),
                     400) == "Validation failed; '0' is less than the min value of '1'."
        assert admin.compute.post(path, json={"extra_specs": {"trait:HW_CPU_X86_AVX": "required"}},
                                  microversion="2.86").status_code == 200
        assert fault(admin.compute.post(path, json={"extra_specs": {"trait:NOT_A_TRAIT": "required"}},
                                        microversion="2.86"), 400)
        # before 2.86 Nova took any value
        assert admin.compute.post(path, json={"extra_specs": {"hw:cpu_policy": "bogus"}},
                                  microversion="2.85").status_code == 200

        assert "os-flavor-extra-specs:create" in fault(cloud.compute.post(path, json={"extra_specs": {"a": "b"}}), 403)
        assert "os-flavor-extra-specs:update" in fault(cloud.compute.put(f"{path}/foo:bar", json={"foo:bar": "x"}), 403)
        assert "os-flavor-extra-specs:delete" in fault(cloud.compute.delete(f"{path}/foo:bar"), 403)
        assert fault(admin.compute.put(f"{path}/hw:numa_nodes", json={"hw:cpu_policy": "shared"}), 400) == \
            "Request body and URI mismatch"
        assert fault(admin.compute.put(f"{path}/hw:numa_nodes", json={"hw:numa_nodes": "1", "foo:bar": "x"}), 400)
        updated = admin.compute.put(f"{path}/hw:cpu_policy", json={"hw:cpu_policy": "dedicated"}, microversion="2.86")
        assert updated.json() == {"hw:cpu_policy": "dedicated"}
        deleted = admin.compute.delete(f"{path}/foo:bar")
        assert deleted.status_code == 200 and not deleted.content
        assert fault(admin.compute.delete(f"{path}/foo:bar"), 404)

        expected = {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "1", "trait:HW_CPU_X86_AVX": "required"}
        assert admin.compute.get(f"/flavors/{fid}", microversion="2.61").json()["flavor"]["extra_specs"] == expected
        assert "extra_specs" not in admin.compute.get(f"/flavors/{fid}", microversion="2.60").json()["flavor"]
        for zone, conn in site_admins.items():
            copy = copies({zone: conn}, flavor["name"])[zone]
            assert wait_for(lambda: conn.compute.get(f"/flavors/{copy['id']}/os-extra_specs").json()["extra_specs"]
                            == expected, timeout=10), f"extra specs of the copy in {zone}"
    finally:
        drop_flavor(admin, fid)


def test_descriptions_from_255(admin, cloud, site_admins):
    name = f"cascade-test-fd-{uuid.uuid4().hex[:8]}"
    body = {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 1, "description": "first"}}
    assert "description" in fault(admin.compute.post("/flavors", json=body, microversion="2.54"), 400)
    made = admin.compute.post("/flavors", json=body, microversion="2.55").json()["flavor"]
    try:
        assert made["description"] == "first"
        assert all("description" in f for f in cloud.compute.get("/flavors", microversion="2.55").json()["flavors"])
        change = {"flavor": {"description": "second"}}
        assert fault(admin.compute.put(f"/flavors/{made['id']}", json=change, microversion="2.54"), 404)
        assert "os-flavor-manage:update" in fault(
            cloud.compute.put(f"/flavors/{made['id']}", json=change, microversion="2.55"), 403)
        assert fault(admin.compute.put(f"/flavors/{made['id']}", json={"flavor": {"name": "x"}},
                                       microversion="2.55"), 400)
        updated = admin.compute.put(f"/flavors/{made['id']}", json=change, microversion="2.61").json()["flavor"]
        assert updated["description"] == "second" and updated["extra_specs"] == {}
        assert cloud.compute.get(f"/flavors/{made['id']}", microversion="2.55").json()["flavor"]["description"] == \
            "second"
        for zone, conn in site_admins.items():
            copy = copies({zone: conn}, name)[zone]
            shown = conn.compute.get(f"/flavors/{copy['id']}", microversion="2.55").json()["flavor"]
            assert shown["description"] == "second", zone
    finally:
        drop_flavor(admin, made["id"])
