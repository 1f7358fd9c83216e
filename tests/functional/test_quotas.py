"""Global quotas: os-quota-sets and os-quota-class-sets served by the cascade
in Nova's shapes, and enforced across all sites before any site is asked
(creates, concurrent creates, min/max count, resize, metadata, key pairs),
with what the sites hold checked straight in the sites. Each test works in a
project and user of its own, made in the shared Keystone."""
from __future__ import annotations

import concurrent.futures
import uuid

import openstack
import pytest

from tests.functional.helpers import STAMP, flavor_id, image_id, wait_for, wait_status

MICROVERSION = "2.37"


class Tenant:
    """A fresh project with one member user: connections through the cascade
    and straight at each site."""

    def __init__(self, demo, admin) -> None:
        self.admin = admin
        name = f"cascade-test-quota-{uuid.uuid4().hex[:8]}"
        self.project = admin.identity.create_project(name=name, domain_id="default")
        self.user = admin.identity.create_user(name=name, password=name, default_project_id=self.project.id,
                                               domain_id="default")
        self.id = self.project.id
        try:
            role = next(r for r in admin.identity.roles() if r.name == "member")
            admin.identity.assign_project_role_to_user(self.project, self.user, role)
            auth = admin.config.config["auth"]

            def connect(region: str):
                conn = openstack.connect(auth_url=auth["auth_url"], username=name, password=name,
                                         project_id=self.project.id, user_domain_name="Default",
                                         region_name=region, identity_api_version="3")
                conn.compute.get("/")    # fails here, not in a test, when the region has no compute
                return conn
            self.cloud = connect(admin.config.region_name)
            self.sites = {zone: connect(demo.conn(zone).config.region_name) for zone in demo.zones}
        except Exception:
            self.drop_identity()
            raise

    def set_quota(self, **limits) -> None:
        answer = self.admin.compute.put(f"/os-quota-sets/{self.id}", json={"quota_set": {**limits, "force": True}})
        assert answer.status_code == 200, answer.text

    def bottom_servers(self) -> list:
        """The project's servers, straight from the sites (all made through
        the cascade: the project is new)."""
        return [s for conn in self.sites.values() for s in conn.compute.servers(details=True)]

    def close(self) -> None:
        try:
            for server in self.cloud.compute.servers():
                self.cloud.compute.delete_server(server)
            for server in self.cloud.compute.servers():
                self.cloud.compute.wait_for_delete(server, wait=60, interval=0.5)
            self.admin.compute.delete(f"/os-quota-sets/{self.id}")
        finally:
            self.drop_identity()

    def drop_identity(self) -> None:
        self.admin.identity.delete_user(self.user)
        self.admin.identity.delete_project(self.project)


@pytest.fixture
def tenant(demo, admin):
    made = Tenant(demo, admin)
    yield made
    made.close()


def server_body(demo, conn, **extra) -> dict:
    return {"server": {"name": f"q-{uuid.uuid4().hex[:6]}", "flavorRef": flavor_id(conn, demo.tiny),
                       "imageRef": image_id(conn, demo.image), "networks": "none", **extra}}


def create(demo, conn, **extra):
    """POST /servers as a user would, the answer as it came."""
    return conn.compute.post("/servers", microversion=MICROVERSION, json=server_body(demo, conn, **extra))


def forbidden(answer, message: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json() == {"forbidden": {"code": 403, "message": message}}


def test_quota_sets_show_what_each_microversion_lists(admin, tenant):
    everything = {"cores", "ram", "instances", "key_pairs", "metadata_items", "server_groups",
                  "server_group_members"}
    network = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
    files = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
    for version, keys in (("2.1", everything | network | files), ("2.36", everything | files), ("2.57", everything)):
        shown = tenant.cloud.compute.get(f"/os-quota-sets/{tenant.id}", microversion=version).json()["quota_set"]
        assert set(shown) == keys | {"id"} and shown["id"] == tenant.id
        defaults = tenant.cloud.compute.get(f"/os-quota-sets/{tenant.id}/defaults", microversion=version).json()
        assert defaults["quota_set"] == shown          # a new project has the defaults
    assert shown == {"id": tenant.id, "cores": 20, "instances": 10, "ram": 51200, "key_pairs": 100,
                     "metadata_items": 128, "server_groups": 10, "server_group_members": 10}
    detail = tenant.cloud.compute.get(f"/os-quota-sets/{tenant.id}/detail", microversion="2.57").json()["quota_set"]
    assert detail["instances"] == {"limit": 10, "in_use": 0, "reserved": 0}
    classes = admin.compute.get("/os-quota-class-sets/default", microversion="2.50").json()["quota_class_set"]
    assert set(classes) == everything | files | {"id"}


def test_only_admins_change_quotas_and_tenants_read_only_their_own(admin, tenant, cloud):
    answer = tenant.cloud.compute.put(f"/os-quota-sets/{tenant.id}", json={"quota_set": {"ram": 0}})
    forbidden(answer, "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.")
    forbidden(cloud.compute.get(f"/os-quota-sets/{tenant.id}"),
              "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
    forbidden(tenant.cloud.compute.get("/os-quota-class-sets/default"),
              "Policy doesn't allow os_compute_api:os-quota-class-sets:show to be performed.")
    bad = admin.compute.put(f"/os-quota-sets/{tenant.id}", microversion="2.36",
                            json={"quota_set": {"floating_ips": 3}})
    assert bad.status_code == 400 and bad.json()["badRequest"]["message"] == (
        "Invalid input for field/attribute quota_set. Value: {'floating_ips': 3}. "
        "Additional properties are not allowed ('floating_ips' was unexpected)")
    missing = admin.compute.get(f"/os-quota-sets/{uuid.uuid4().hex}")
    assert missing.status_code == 400 and "is not a valid project." in missing.json()["badRequest"]["message"]
    updated = admin.compute.put(f"/os-quota-sets/{tenant.id}", json={"quota_set": {"ram": "5120"}})
    assert updated.status_code == 200 and updated.json()["quota_set"]["ram"] == 5120 and \
        "id" not in updated.json()["quota_set"]
    per_user = admin.compute.put(f"/os-quota-sets/{tenant.id}?user_id={tenant.user.id}",
                                 json={"quota_set": {"ram": 6000}})
    assert per_user.json()["badRequest"]["message"] == "Quota limit 6000 for ram must be less than or equal to 5120."
    admin.compute.put(f"/os-quota-sets/{tenant.id}?user_id={tenant.user.id}", json={"quota_set": {"ram": 2048}})
    assert tenant.cloud.compute.get(
        f"/os-quota-sets/{tenant.id}?user_id={tenant.user.id}").json()["quota_set"]["ram"] == 2048
    assert admin.compute.delete(f"/os-quota-sets/{tenant.id}").status_code == 202
    assert tenant.cloud.compute.get(f"/os-quota-sets/{tenant.id}").json()["quota_set"]["ram"] == 51200


def test_the_default_class_is_every_projects_default(admin, tenant):
    before = admin.compute.get("/os-quota-class-sets/default").json()["quota_class_set"]
    try:
        changed = admin.compute.put("/os-quota-class-sets/default",
                                    json={"quota_class_set": {"instances": before["instances"] + 100}})
        assert changed.json()["quota_class_set"]["instances"] == before["instances"] + 100
        shown = tenant.cloud.compute.get(f"/os-quota-sets/{tenant.id}").json()["quota_set"]
        assert shown["instances"] == before["instances"] + 100
    finally:
        admin.compute.put("/os-quota-class-sets/default", json={"quota_class_set": {"instances": before["instances"]}})


def test_a_full_quota_refuses_creates_in_every_site(demo, tenant):
    tenant.set_quota(instances=1)
    first = create(demo, tenant.cloud, availability_zone=demo.zones[0])
    assert first.status_code == 202, first.text
    for zone in demo.zones:     # another zone has room, the project has none
        forbidden(create(demo, tenant.cloud, availability_zone=zone),
                  "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances")
    assert len(tenant.bottom_servers()) == 1
    tiny = tenant.cloud.compute.find_flavor(demo.tiny)
    tenant.set_quota(instances=10, cores=0)
    forbidden(create(demo, tenant.cloud), f"Quota exceeded for cores: Requested {tiny.vcpus}, "
                                          f"but already used {tiny.vcpus} of 0 cores")
    tenant.set_quota(cores=20, ram=0)
    forbidden(create(demo, tenant.cloud, min_count=2, max_count=3),
              f"Quota exceeded for ram: Requested {3 * tiny.ram}, but already used {tiny.ram} of 0 ram")
    tenant.set_quota(ram=51200, metadata_items=1)
    forbidden(create(demo, tenant.cloud, metadata={"a": "1", "b": "2"}), "Maximum number of metadata items exceeds 1")
    assert len(tenant.bottom_servers()) == 1


def test_concurrent_creates_never_pass_the_quota_together(demo, tenant):
    tenant.set_quota(instances=2)
    bodies = [server_body(demo, tenant.cloud) for _ in range(5)]
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda body: tenant.cloud.compute.post("/servers", json=body,
                                                                         microversion=MICROVERSION), bodies))
    assert sorted(a.status_code for a in answers) == [202, 202, 403, 403, 403], [a.text for a in answers]
    assert len(tenant.bottom_servers()) == 2
    detail = tenant.cloud.compute.get(f"/os-quota-sets/{tenant.id}/detail").json()["quota_set"]
    assert detail["instances"] == {"limit": 2, "in_use": 2, "reserved": 0}


def test_a_multiple_create_makes_as_many_servers_as_fit(demo, tenant):
    tenant.set_quota(instances=3)
    made = create(demo, tenant.cloud, min_count=1, max_count=5, return_reservation_id=True)
    assert made.status_code == 202, made.text
    reservation = made.json()["reservation_id"]
    listed = tenant.cloud.compute.get(f"/servers?reservation_id={reservation}").json()["servers"]
    assert len(listed) == 3
    assert len(tenant.bottom_servers()) == 3
    forbidden(create(demo, tenant.cloud), "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances")


@pytest.fixture
def wider_flavor(demo, admin):
    """The tiny flavor's shape with one more vCPU."""
    tiny = admin.compute.find_flavor(demo.tiny, ignore_missing=False)
    flavor = admin.compute.create_flavor(name=f"cascade-test-quota-{uuid.uuid4().hex[:6]}", ram=tiny.ram,
                                         vcpus=tiny.vcpus + 1, disk=tiny.disk)
    yield flavor
    admin.compute.delete_flavor(flavor)


def test_resize_is_refused_beyond_the_cores_quota_and_charged_when_accepted(demo, tenant, wider_flavor):
    server = create(demo, tenant.cloud).json()["server"]
    wait_status(tenant.cloud, server["id"], "ACTIVE")
    tiny = tenant.cloud.compute.find_flavor(demo.tiny)
    tenant.set_quota(cores=tiny.vcpus)
    small = flavor_id(tenant.cloud, demo.small)
    refused = tenant.cloud.compute.post(f"/servers/{server['id']}/action",
                                        json={"resize": {"flavorRef": wider_flavor.id}})
    forbidden(refused, f"Quota exceeded for cores: Requested 1, but already used {tiny.vcpus} of {tiny.vcpus} cores")
    (zone, bottom), = [(z, s) for z, conn in tenant.sites.items() for s in conn.compute.servers()]
    shown = tenant.sites[zone].compute.get(f"/servers/{bottom.id}", microversion="2.47").json()["server"]
    assert shown["status"] == "ACTIVE" and shown["flavor"]["original_name"] == demo.tiny
    accepted = tenant.cloud.compute.post(f"/servers/{server['id']}/action", json={"resize": {"flavorRef": small}})
    assert accepted.status_code == 202, accepted.text
    wait_status(tenant.cloud, server["id"], "VERIFY_RESIZE")
    used = tenant.cloud.compute.get("/limits").json()["limits"]["absolute"]["totalRAMUsed"]
    assert used == tenant.cloud.compute.find_flavor(demo.small).ram
    tenant.cloud.compute.post(f"/servers/{server['id']}/action", json={"revertResize": None})
    used = tenant.cloud.compute.get("/limits").json()["limits"]["absolute"]["totalRAMUsed"]
    assert used == tenant.cloud.compute.find_flavor(demo.tiny).ram


def test_metadata_beyond_the_quota_is_refused_and_the_site_keeps_its_own(demo, tenant):
    server = create(demo, tenant.cloud, metadata={"a": "1"}).json()["server"]
    wait_status(tenant.cloud, server["id"], "ACTIVE")
    tenant.set_quota(metadata_items=2)
    path = f"/servers/{server['id']}/metadata"
    message = "Maximum number of metadata items exceeds 2"
    forbidden(tenant.cloud.compute.put(path, json={"metadata": {"x": "1", "y": "2", "z": "3"}}), message)
    forbidden(tenant.cloud.compute.post(path, json={"metadata": {"x": "1", "y": "2"}}), message)   # merged: 3
    assert tenant.cloud.compute.post(path, json={"metadata": {"b": "2"}}).status_code == 200
    forbidden(tenant.cloud.compute.put(f"{path}/c", json={"meta": {"c": "3"}}), message)
    assert tenant.cloud.compute.put(f"{path}/a", json={"meta": {"a": "changed"}}).status_code == 200
    (bottom,) = tenant.bottom_servers()
    assert {k: v for k, v in bottom.metadata.items() if k != STAMP} == {"a": "changed", "b": "2"}


def test_key_pairs_are_limited_per_user(tenant):
    tenant.set_quota(key_pairs=1)
    first = tenant.cloud.compute.post("/os-keypairs", json={"keypair": {"name": "first"}}, microversion="2.2")
    assert first.status_code == 201, first.text
    forbidden(tenant.cloud.compute.post("/os-keypairs", json={"keypair": {"name": "second"}}, microversion="2.2"),
              "Quota exceeded, too many key pairs.")
    tenant.cloud.compute.delete("/os-keypairs/first")


def test_limits_are_the_projects_quotas_and_usage(demo, tenant):
    tenant.set_quota(instances=4, cores=7)
    server = create(demo, tenant.cloud).json()["server"]
    absolute = tenant.cloud.compute.get("/limits", microversion="2.57").json()["limits"]["absolute"]
    tiny = tenant.cloud.compute.find_flavor(demo.tiny)
    assert absolute == {"maxTotalInstances": 4, "maxTotalCores": 7, "maxTotalRAMSize": 51200, "maxTotalKeypairs": 100,
                        "maxServerMeta": 128, "maxServerGroups": 10, "maxServerGroupMembers": 10,
                        "totalInstancesUsed": 1, "totalCoresUsed": tiny.vcpus, "totalRAMUsed": tiny.ram,
                        "totalServerGroupsUsed": 0}
    tenant.cloud.compute.delete_server(server["id"])
    wait_for(lambda: tenant.cloud.compute.get("/limits").json()["limits"]["absolute"]["totalInstancesUsed"] == 0)
