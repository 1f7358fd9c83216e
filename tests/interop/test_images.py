"""Images that appear in real Glance after the sites were added: the image
front adopts them when it first sees them, one top image per (owner, name,
checksum) however many regions hold a copy, and servers boot from them in
every zone that has a copy."""
from __future__ import annotations

import hashlib
import uuid

import pytest

from tests.functional.helpers import bottom_copy, flavor_id

pytestmark = pytest.mark.interop


@pytest.fixture
def late_name(site_admins):
    name = f"cascade-test-late-{uuid.uuid4().hex[:8]}"
    yield name
    for conn in site_admins.values():
        for image in conn.image.images(name=name):
            conn.image.delete_image(image, ignore_missing=True)


def upload(conn, name: str, data: bytes):
    return conn.image.create_image(name, data=data, disk_format="raw", container_format="bare",
                                   visibility="public", allow_duplicates=True, wait=True, timeout=120)


def boot_in_every_zone(demo, cloud, sites, image_id: str) -> None:
    servers = [cloud.compute.create_server(name=f"cascade-test-late-{zone}", flavor_id=flavor_id(cloud, demo.tiny),
                                           image_id=image_id, networks="none", availability_zone=zone)
               for zone in demo.zones]
    try:
        for zone, server in zip(demo.zones, servers):
            server = cloud.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.5)
            assert server.image.id == image_id
            assert bottom_copy(sites, server.id)[0] == zone
    finally:
        for server in servers:
            cloud.compute.delete_server(server)


def test_an_image_uploaded_after_the_sites_were_added(demo, cloud, sites, site_admins, late_name):
    data = uuid.uuid4().bytes * 1024
    for conn in site_admins.values():
        upload(conn, late_name, data)
    listed = list(cloud.image.images(name=late_name))
    assert len(listed) == 1, "one top image for the same bytes in every region"
    assert listed[0].checksum == hashlib.md5(data).hexdigest()
    boot_in_every_zone(demo, cloud, sites, listed[0].id)


def test_an_image_seen_before_its_upload_finished(demo, cloud, sites, site_admins, late_name):
    """A tenant listing while an image is still queued must not split it in
    two top images once its data (its checksum) arrives."""
    data = uuid.uuid4().bytes * 1024
    first, *others = site_admins.values()
    queued = first.image.create_image(late_name, disk_format="raw", container_format="bare",
                                      visibility="public", allow_duplicates=True)
    seen = list(cloud.image.images(name=late_name))
    assert [i.status for i in seen] == ["queued"], "the cascade lists a queued image, as Glance does"
    first.image.put(f"/images/{queued.id}/file", data=data, headers={"Content-Type": "application/octet-stream"})
    for conn in others:
        upload(conn, late_name, data)
    listed = list(cloud.image.images(name=late_name))
    assert len(listed) == 1 and listed[0].checksum == hashlib.md5(data).hexdigest(), \
        f"seen while queued: {[(i.id, i.status) for i in seen]}; now: {[(i.id, i.checksum) for i in listed]}"
    boot_in_every_zone(demo, cloud, sites, listed[0].id)
