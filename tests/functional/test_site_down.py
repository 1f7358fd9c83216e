"""A site that is down: creates aimed at it fail at once, lists answer in
bounded time with the others' servers (and partial records from 2.69), calls
on its servers answer 503, and the other sites are not slowed."""
from __future__ import annotations

import time

import pytest

from tests.functional.helpers import boot, flavor_id, image_id, wait_for


@pytest.fixture
def site3_down(demo, admin):
    doomed = boot(demo, demo.conn("cascade"), zone="site3")
    demo.fault("site3", down=True)
    yield doomed
    demo.clear_faults("site3")
    cloud = demo.conn("cascade")
    # back in service once its breaker lets real calls through again
    wait_for(lambda: cloud.compute.get(f"/servers/{doomed.id}").status_code == 200, timeout=40, interval=1)
    wait_for(lambda: next(z for z in cloud.compute.availability_zones() if z.name == "site3").state["available"],
             timeout=40, interval=1)
    cloud.compute.delete_server(doomed)


def test_down_site(demo, cloud, site3_down):
    survivor = boot(demo, cloud, zone="site1")
    try:
        started = time.monotonic()
        response = cloud.compute.post("/servers", json={"server": {
            "name": "x", "flavorRef": flavor_id(cloud, demo.tiny), "imageRef": image_id(cloud, demo.image),
            "networks": "none", "availability_zone": "site3"}}, microversion="2.37")
        assert response.status_code == 503, response.text
        assert time.monotonic() - started < 5

        started = time.monotonic()
        listed = cloud.compute.get("/servers/detail", microversion="2.37").json()["servers"]
        assert time.monotonic() - started < 8
        ids = {s["id"] for s in listed}
        assert survivor.id in ids and site3_down.id not in ids

        partial = cloud.compute.get("/servers/detail", microversion="2.69").json()["servers"]
        unknown = [s for s in partial if s["id"] == site3_down.id]
        assert unknown and unknown[0]["status"] == "UNKNOWN"
        assert set(unknown[0]) <= {"id", "status", "tenant_id", "created", "links"}

        response = cloud.compute.post(f"/servers/{site3_down.id}/action", json={"os-stop": None})
        assert response.status_code == 503
        assert cloud.compute.get(f"/servers/{site3_down.id}", microversion="2.69").json()["server"]["status"] \
            == "UNKNOWN"

        started = time.monotonic()
        assert cloud.compute.get_server(survivor.id).status == "ACTIVE"
        assert time.monotonic() - started < 2
        other = boot(demo, cloud, wait=False)
        assert other.id
        cloud.compute.delete_server(other)
    finally:
        cloud.compute.delete_server(survivor)
