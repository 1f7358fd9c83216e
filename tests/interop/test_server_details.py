"""tests/functional/test_server_details.py, run through the cascade in front of real
OpenStack (realstack's two regions) instead of simcloud."""
from __future__ import annotations

import pytest

from tests.functional.test_server_details import *  # noqa: F401,F403

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module", autouse=True)
def image_needing_more_ram(site_admins):
    """An image with a min_ram above the tier's flavors in each region (real
    Glance starts with none), for the min_ram scenario."""
    name = "cascade-test-minram"
    made = []
    for conn in site_admins.values():
        for old in conn.image.images(name=name):
            conn.image.delete_image(old, ignore_missing=True)
        made.append((conn, conn.image.create_image(name, data=b"x" * 1024, disk_format="raw",
                                                   container_format="bare", visibility="public",
                                                   min_ram=4096, wait=True, timeout=120)))
    yield name
    for conn, image in made:
        conn.image.delete_image(image, ignore_missing=True)
