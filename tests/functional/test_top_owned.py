"""Flavors, key pairs, availability zones and images: top-owned or
aggregated, and copied into sites when needed."""
from __future__ import annotations

import uuid

from tests.functional.helpers import boot, bottom_copy


def test_flavor_created_by_admin_reaches_every_site(admin, cloud, sites):
    name = f"f-{uuid.uuid4().hex[:6]}"
    flavor = admin.compute.create_flavor(name=name, ram=256, vcpus=1, disk=1)
    try:
        assert cloud.compute.find_flavor(name).id == flavor.id
        for conn in sites.values():
            copy = conn.compute.find_flavor(name)
            assert copy is not None and copy.id != flavor.id and copy.ram == 256
    finally:
        admin.compute.delete_flavor(flavor)
    assert cloud.compute.find_flavor(name) is None
    for conn in sites.values():
        assert conn.compute.find_flavor(name) is None, "the sites' copies go with the top flavor"


def test_non_admin_cannot_create_flavor(cloud):
    response = cloud.compute.post("/flavors", json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0}})
    assert response.status_code == 403 and "forbidden" in response.json()


def test_keypair_is_copied_to_the_site_on_first_use(demo, cloud, sites):
    name = f"k-{uuid.uuid4().hex[:6]}"
    zone, other = demo.zones[-1], demo.zones[0]
    keypair = cloud.compute.create_keypair(name=name)
    assert keypair.private_key
    assert all(conn.compute.find_keypair(name) is None for conn in sites.values())
    server = boot(demo, cloud, zone=zone, key_name=name)
    assert server.key_name == name
    copy = sites[zone].compute.find_keypair(name)
    assert copy is not None and copy.fingerprint == keypair.fingerprint
    assert sites[other].compute.find_keypair(name) is None
    cloud.compute.delete_server(server)
    cloud.compute.wait_for_delete(server, wait=60, interval=0.5)
    cloud.compute.delete_keypair(name)
    assert sites[zone].compute.find_keypair(name) is None


def test_availability_zones_are_the_sites(demo, cloud):
    zones = {z.name: z.state for z in cloud.compute.availability_zones()}
    assert zones == {zone: {"available": True} for zone in demo.zones}


def test_same_image_in_every_site_is_one_image(demo, cloud, sites):
    names = [i.name for i in cloud.image.images()]
    assert names.count(demo.image) == 1
    top = next(i for i in cloud.image.images() if i.name == demo.image)
    bottom_ids = {next(i.id for i in conn.image.images() if i.name == demo.image) for conn in sites.values()}
    assert len(bottom_ids) == len(sites) and top.id not in bottom_ids
    assert cloud.image.get_image(top.id).checksum == next(
        i for i in sites[demo.zones[0]].image.images() if i.name == demo.image).checksum
    server = boot(demo, cloud, zone=demo.zones[-1])
    assert server.image.id == top.id
    assert bottom_copy(sites, server.id)[1].image.id in bottom_ids
    cloud.compute.delete_server(server)
