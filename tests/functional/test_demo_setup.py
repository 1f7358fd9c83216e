"""`cascade demo`'s Keystone set-up can run again and again: the cascade's
endpoints stay one per service and interface (a moved cascade replaces its
old URL, duplicates go), and tenant projects and users are made once."""
from __future__ import annotations

import uuid

import openstack
import pytest

from cascade.cli.keystone_admin import INTERFACES, KeystoneAdmin


@pytest.fixture
def keystone(admin):
    return KeystoneAdmin(admin.session, admin.config.get_auth_args()["auth_url"])


@pytest.fixture
def scratch_region(admin):
    region = f"cascade-scratch-{uuid.uuid4().hex[:8]}"   # not cascade-test-*: see the interop sweep
    yield region
    for endpoint in list(admin.identity.endpoints(region_id=region)):
        admin.identity.delete_endpoint(endpoint, ignore_missing=True)
    admin.identity.delete_region(region, ignore_missing=True)


def catalog_of(admin, region: str) -> list[tuple[str, str, str]]:
    types = {s.id: s.type for s in admin.identity.services()}
    return sorted((types[e.service_id], e.interface, e.url) for e in admin.identity.endpoints(region_id=region))


def urls(port: int) -> dict[str, str]:
    return {"compute": f"http://127.0.0.1:{port}/compute/v2.1", "image": f"http://127.0.0.1:{port}/image"}


def test_endpoints_are_registered_once_and_follow_the_cascade(admin, keystone, scratch_region):
    keystone.register_endpoints(scratch_region, urls(1111))
    keystone.register_endpoints(scratch_region, urls(1111))
    assert catalog_of(admin, scratch_region) == sorted(
        (kind, interface, url) for kind, url in urls(1111).items() for interface in INTERFACES)
    compute = next(s for s in admin.identity.services() if s.type == "compute")
    admin.identity.create_endpoint(service_id=compute.id, interface="public", region_id=scratch_region,
                                   url="http://127.0.0.1:1111/compute/v2.1")   # a duplicate, as a race could leave
    keystone.register_endpoints(scratch_region, urls(2222))
    assert catalog_of(admin, scratch_region) == sorted(
        (kind, interface, url) for kind, url in urls(2222).items() for interface in INTERFACES)


def test_tenants_are_made_once(demo, admin, keystone):
    user = demo.conn("cascade").current_user_id
    name = admin.identity.get_user(user).name
    keystone.ensure_tenant(name, "password")
    keystone.ensure_tenant(name, "password")
    assert len(list(admin.identity.projects(name=name))) == 1
    assert len(list(admin.identity.users(name=name))) == 1
    assert openstack.connect(cloud="cascade").authorize(), "the password is left as it was"
